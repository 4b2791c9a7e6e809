/// Configuration of a ``KafkaProducer``.
public struct KafkaProducerConfiguration: Sendable, CustomStringConvertible {
    /// `acks`: how many replicas must have a record before it counts as delivered.
    public struct Acks: Sendable, Hashable {
        public let rawValue: Int
        /// All in-sync replicas (required by the idempotent producer; the default).
        public static let all = Acks(rawValue: -1)
        /// The partition leader only.
        public static let leader = Acks(rawValue: 1)
    }

    /// `compression.codec`.
    public struct Compression: Sendable, Hashable {
        public let rawValue: String
        public static let none = Compression(rawValue: "none")
        public static let gzip = Compression(rawValue: "gzip")
        public static let snappy = Compression(rawValue: "snappy")
        public static let lz4 = Compression(rawValue: "lz4")
        public static let zstd = Compression(rawValue: "zstd")
    }

    public var connection: KafkaConnectionConfiguration
    /// `enable.idempotence` (default `true`): broker-side de-duplication of producer retries, in order.
    public var idempotent: Bool = true
    /// `acks` (default `.all`). The idempotent producer requires `.all`.
    public var acks: Acks = .all
    /// `linger.ms` (default 5 ms): how long to wait to fill a batch. Range 0...900000 ms.
    public var linger: Duration = .milliseconds(5)
    /// `message.timeout.ms` (default 120 s): after this a record that could not be delivered fails
    /// with `_MSG_TIMED_OUT`. Range 1 ms...2147483647 ms.
    public var deliveryTimeout: Duration = .seconds(120)
    /// `compression.codec` (default `.none`).
    public var compression: Compression = .none
    /// `queue.buffering.max.messages` (default 100,000): records waiting for delivery before `send` waits.
    public var maxQueuedMessages: Int = 100_000

    public init(bootstrapServers: [String]) {
        self.connection = KafkaConnectionConfiguration(bootstrapServers: bootstrapServers)
    }

    public var description: String { "KafkaProducerConfiguration(\(connection))" }

    /// Checks every value; throws an error naming the first bad key.
    public func validate() throws(KafkaConfigurationError) { _ = try properties() }

    func properties() throws(KafkaConfigurationError) -> KafkaProperties {
        var props = KafkaProperties()
        try connection.apply(to: &props)
        if idempotent && acks != .all {
            throw KafkaConfigurationError(
                key: "acks", message: "the idempotent producer needs acks=all (-1); set idempotent = false to use acks=1")
        }
        props["enable.idempotence"] = idempotent ? "true" : "false"
        props["acks"] = String(acks.rawValue)
        try props.set("linger.ms", linger, in: 0...900_000)
        try props.set("message.timeout.ms", deliveryTimeout, in: 1...2_147_483_647)
        guard [Compression.none, .gzip, .snappy, .lz4, .zstd].contains(compression) else {
            throw KafkaConfigurationError(
                key: "compression.codec", message: "\"\(compression.rawValue)\" is not one of: none, gzip, snappy, lz4, zstd")
        }
        props["compression.codec"] = compression.rawValue
        try props.set("queue.buffering.max.messages", maxQueuedMessages, in: 1...2_147_483_647)
        try connection.applyAdditional(to: &props, reserved: [
            "bootstrap.servers": "use bootstrapServers", "client.id": "use clientID",
            "message.timeout.ms": "use deliveryTimeout", "compression.codec": "use compression",
        ])
        return props
    }
}
