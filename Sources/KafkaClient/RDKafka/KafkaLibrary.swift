internal import Crdkafka

/// Facts about the linked librdkafka.
public enum KafkaLibrary {
    /// The version as text, e.g. `2.0.2`.
    public static var version: String { String(cString: rd_kafka_version_str()) }
    /// The version as librdkafka encodes it: `0xMMmmrrxx`.
    public static var versionNumber: Int32 { rd_kafka_version() }

    /// Whether the librdkafka loaded at run time (which may be newer than the headers we compile against) is at
    /// least `major.minor.revision`.
    public static func isAtLeast(_ major: Int, _ minor: Int, _ revision: Int = 0) -> Bool {
        versionNumber >= encoded(major, minor, revision)
    }

    /// `major.minor.revision` in librdkafka's `0xMMmmrrxx` form (`xx` = 0, below every release of that version).
    static func encoded(_ major: Int, _ minor: Int, _ revision: Int) -> Int32 {
        Int32(truncatingIfNeeded: (major & 0xFF) << 24 | (minor & 0xFF) << 16 | (revision & 0xFF) << 8)
    }
}

extension String {
    /// Text from a NUL-terminated C buffer that librdkafka filled (an `errstr`).
    init(cBuffer buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
