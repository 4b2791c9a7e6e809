/// Something that happened to a consumer, for observation (logs, metrics, status pages).
///
/// Decisions that must happen *before* a rebalance completes belong in ``KafkaRebalanceHooks``;
/// events are delivered afterwards and may be dropped (oldest first) when nobody reads them.
public struct KafkaConsumerEvent: Sendable, CustomStringConvertible {
    /// What kind of event this is. Open: more kinds may be added.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        /// Partitions were assigned to this member.
        public static let assigned = Kind(rawValue: "assigned")
        /// Partitions were revoked in an orderly rebalance.
        public static let revoked = Kind(rawValue: "revoked")
        /// Partitions were lost (session expired, fenced): their offsets must not be committed.
        public static let lost = Kind(rawValue: "lost")
        /// A rebalance hook ran past its time limit; the rebalance went on without it.
        public static let hookTimedOut = Kind(rawValue: "hook-timed-out")
        /// An offset commit finished (successfully, or with ``KafkaConsumerEvent/error``).
        public static let committed = Kind(rawValue: "committed")
        /// A client error (broker down, transport, ...). Most are retried by librdkafka itself.
        public static let error = Kind(rawValue: "error")
        public var description: String { rawValue }
    }

    public var kind: Kind
    /// The partitions concerned (assigned, revoked, lost).
    public var partitions: [KafkaTopicPartition] = []
    /// The offsets concerned (committed).
    public var offsets: [KafkaTopicPartitionOffset] = []
    /// The error, for `.error` and failed `.committed` events.
    public var error: KafkaError?

    public init(kind: Kind, partitions: [KafkaTopicPartition] = [], offsets: [KafkaTopicPartitionOffset] = [],
                error: KafkaError? = nil) {
        self.kind = kind
        self.partitions = partitions
        self.offsets = offsets
        self.error = error
    }

    public var description: String {
        var text = kind.rawValue
        if !partitions.isEmpty { text += " \(partitions)" }
        if !offsets.isEmpty { text += " \(offsets)" }
        if let error { text += " error: \(error)" }
        return text
    }
}
