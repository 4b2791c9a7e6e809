internal import Crdkafka

/// Facts about the linked librdkafka.
public enum KafkaLibrary {
    /// The version as text, e.g. `2.0.2`.
    public static var version: String { String(cString: rd_kafka_version_str()) }
    /// The version as librdkafka encodes it: `0xMMmmrrxx`.
    public static var versionNumber: Int32 { rd_kafka_version() }
}

extension String {
    /// Text from a NUL-terminated C buffer that librdkafka filled (an `errstr`).
    init(cBuffer buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
