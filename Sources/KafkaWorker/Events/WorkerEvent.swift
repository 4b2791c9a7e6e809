public import KafkaClient

/// Something the worker did or saw. Delivered as ``KafkaWorker/events`` and written as a log line.
public struct WorkerEvent: Sendable, CustomStringConvertible {
    /// What happened. Open: more kinds may be added.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        /// The worker stopped because of an error it cannot recover from.
        public static let crashed = Kind(rawValue: "crashed")
        /// A rebalance began (partitions are being revoked).
        public static let rebalancing = Kind(rawValue: "rebalancing")
        public static let assigned = Kind(rawValue: "assigned")
        public static let revoked = Kind(rawValue: "revoked")
        /// Partitions were lost (session expired, fenced): nothing of them is committed.
        public static let lost = Kind(rawValue: "lost")
        /// Offsets were committed, or a commit failed (`error`).
        public static let committed = Kind(rawValue: "committed")
        /// A record was delivered to its dead-letter topic (`record`, `error`, `attempts`).
        public static let deadLettered = Kind(rawValue: "dead-lettered")
        /// Publishing a dead letter failed; the record stays unfinished and is tried again.
        public static let deadLetterFailed = Kind(rawValue: "dead-letter-failed")
        /// An attempt failed and the record will be tried again after `delay`.
        public static let retrying = Kind(rawValue: "retrying")
        /// A record has run past the watchdog deadline.
        public static let watchdog = Kind(rawValue: "watchdog")
        /// A record was recognised as already processed (idempotency store) and skipped.
        public static let duplicateSkipped = Kind(rawValue: "duplicate-skipped")
        /// A lock's lease was lost while its record ran; the handler was cancelled and the record is retried.
        public static let lockLost = Kind(rawValue: "lock-lost")
        /// Old idempotency markers were removed (`message` says how many), or removing them failed (`error`).
        public static let markersCleaned = Kind(rawValue: "markers-cleaned")
        /// Shutdown began, or ended (`message`).
        public static let shutdown = Kind(rawValue: "shutdown")
        public var description: String { rawValue }
    }

    public var kind: Kind
    public var partitions: [KafkaTopicPartition] = []
    public var offsets: [KafkaTopicPartitionOffset] = []
    /// The record concerned: where it came from, never its contents.
    public var record: KafkaTopicPartitionOffset?
    public var attempts: Int?
    public var delay: Duration?
    /// A description of the error, scrubbed and truncated like dead-letter headers.
    public var error: String?
    public var message: String?

    public init(kind: Kind, partitions: [KafkaTopicPartition] = [], offsets: [KafkaTopicPartitionOffset] = [],
                record: KafkaTopicPartitionOffset? = nil, attempts: Int? = nil, delay: Duration? = nil,
                error: String? = nil, message: String? = nil) {
        self.kind = kind
        self.partitions = partitions
        self.offsets = offsets
        self.record = record
        self.attempts = attempts
        self.delay = delay
        self.error = error
        self.message = message
    }

    public var description: String {
        var parts = [kind.rawValue]
        if !partitions.isEmpty { parts.append("partitions=\(partitions)") }
        if !offsets.isEmpty { parts.append("offsets=\(offsets)") }
        if let record { parts.append("record=\(record)") }
        if let attempts { parts.append("attempts=\(attempts)") }
        if let delay { parts.append("delay=\(delay)") }
        if let error { parts.append("error=\(error)") }
        if let message { parts.append(message) }
        return parts.joined(separator: " ")
    }
}
