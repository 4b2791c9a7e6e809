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

    /// Waits until every librdkafka client of the process (consumers, producers, admin clients, embedded clusters'
    /// owners) has been destroyed — their last references dropped and their threads joined — at most `limit`.
    /// Returns whether they all were. Blocks the calling thread: call it where a process ends, not on a task.
    ///
    /// A process should not call `exit()` while librdkafka's threads still end: librdkafka built with a static
    /// OpenSSL (the wheels of other Kafka clients carry one) registers OpenSSL's clean-up to run at exit, and a
    /// thread that ends during that clean-up crashes the process (seen: SIGSEGV in `init_thread_deregister`).
    /// Wait here, flush what was written, then end the process with `_exit`.
    public static func waitUntilClientsDestroyed(within limit: Duration) -> Bool {
        // librdkafka 2.0.2 turns the milliseconds into microseconds in an `int`: keep below its range.
        rd_kafka_wait_destroyed(Int32(clamping: min(max(0, limit.wholeMilliseconds), 2_000_000))) == 0
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
