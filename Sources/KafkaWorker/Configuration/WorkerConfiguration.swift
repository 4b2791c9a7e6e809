public import KafkaClient

/// Configuration of a ``KafkaWorker``. Required values go in `init`; the rest have documented defaults.
public struct WorkerConfiguration: Sendable, CustomStringConvertible {
    /// The underlying consumer: connection, group, session and fetch settings. Its `groupID` is the worker's group.
    public var consumer: KafkaConsumerConfiguration
    /// The topics to consume. Required, at least one.
    public var topics: [String]
    /// How records are ordered while they run concurrently (default `.partition`).
    public var ordering: OrderingMode = .partition
    /// Most records (per-record handlers) or batches (batch handlers) handled at once (default 16). Range 1...10000.
    public var maxConcurrency: Int = 16
    /// Records a batch handler receives at most (default 500); also the chunk a lane takes at once. Range 1...100000.
    public var maxBatchSize: Int = 500
    /// Records held by the worker (received, not finished) at which it stops taking more from the consumer
    /// (default 50,000) until it is down to half; the consumer's own bounded buffer then fills, and if that lasts,
    /// fetching pauses. Range 1...10000000.
    public var maxBufferedRecords: Int = 50_000
    /// Records held for one partition at which that partition alone is paused (default 20,000), so one stuck or
    /// retrying partition does not hold the others up; it resumes at half. Keep it above what one fetch brings
    /// (`max.partition.fetch.bytes` / record size): pausing drops librdkafka's prefetched records of the partition
    /// and waits for a new fetch round. Range 1...`maxBufferedRecords`.
    public var maxBufferedRecordsPerPartition: Int = 20_000
    /// Bytes (keys + values) held by the worker at which it stops taking more, like `maxBufferedRecords`
    /// (default 192 MiB; with the hand-off's 64 MiB, 256 MiB in all besides librdkafka's own prefetch,
    /// `fetch.maxQueuedKilobytes`). A single record larger than this still runs, alone. Range 1 MiB...64 GiB.
    public var maxBufferedBytes: Int = 192 << 20
    public var retry = RetryPolicy()
    public var deadLetter = DeadLetterConfiguration()
    public var watchdog = WatchdogConfiguration()
    /// How long a revoke waits for in-flight records of the revoked partitions before it lets them go (default 10 s).
    /// Records still running then are not committed.
    public var revokeDrainTimeout: Duration = .seconds(10)
    /// How long the start waits for an idempotency store that fails with a transient error (a database restarting
    /// just then), retrying its preparation; a store still unavailable after this fails the start (default 30 s).
    public var storePrepareTimeout: Duration = .seconds(30)
    /// How long a graceful shutdown waits for in-flight records (default 30 s).
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// How long, within the grace period, a graceful shutdown also runs queued records below each partition's
    /// highest finished one, so the commit covers every finished record (default 5 s; 0: only the records running).
    /// Past it no record starts and the running ones have the rest of the grace period; what finished above the
    /// commit is then listed in its metadata (``commitMetadataMaxBytes``). Range 0...1 h.
    public var shutdownDrainTimeout: Duration = .seconds(5)
    /// How often the summary line (throughput, error rate) is logged (default 60 s, as in the source chapter).
    public var summaryInterval: Duration = .seconds(60)
    /// The byte budget for the finished offsets above each commit, written into the commit's metadata so that the
    /// partition's next owner skips them (after a crash, a revoke, a stop past its grace period) instead of running
    /// them again (default 4,000, within the broker's default `offset.metadata.max.bytes` of 4,096; 0: plain
    /// commits). What does not fit is delivered again, as without; a broker that refuses the metadata turns it off.
    /// The worker sends every commit itself (its commit loop, revokes, the shutdown), so each carries it, with every
    /// librdkafka version. Range 0...1 MiB.
    public var commitMetadataMaxBytes = 4_000

    public init(bootstrapServers: [String], groupID: String, topics: [String]) {
        self.consumer = KafkaConsumerConfiguration(bootstrapServers: bootstrapServers, groupID: groupID)
        self.topics = topics
    }

    public var groupID: String { consumer.groupID }

    public var description: String {
        "WorkerConfiguration(topics: \(topics), ordering: \(ordering), maxConcurrency: \(maxConcurrency), \(consumer))"
    }

    /// Checks every value; throws an error naming the first bad key.
    public func validate() throws(KafkaConfigurationError) {
        try consumer.validate()
        guard !topics.isEmpty, topics.allSatisfy({ !$0.isEmpty }) else {
            throw KafkaConfigurationError(key: "topics", message: "at least one non-empty topic name is required")
        }
        try Self.check("maxConcurrency", maxConcurrency, 1...10_000)
        try Self.check("maxBatchSize", maxBatchSize, 1...100_000)
        try Self.check("maxBufferedRecords", maxBufferedRecords, 1...10_000_000)
        try Self.check("maxBufferedRecordsPerPartition", maxBufferedRecordsPerPartition, 1...maxBufferedRecords)
        try Self.check("maxBufferedBytes", maxBufferedBytes, (1 << 20)...(64 << 30))
        try retry.validate()
        try deadLetter.validate()
        if deadLetter.enabled, let looping = topics.first(where: { deadLetter.topicName($0) == $0 }) {
            throw KafkaConfigurationError(
                key: "deadLetter.topicName",
                message: "the dead-letter topic of \"\(looping)\" is the topic itself; dead letters would be consumed again")
        }
        try watchdog.validate()
        try Self.check("revokeDrainTimeout", revokeDrainTimeout, .milliseconds(1) ... .seconds(3600))
        // The poll thread awaits the drain up to the hook timeout; a drain allowed longer would be cut short.
        guard revokeDrainTimeout + .seconds(1) <= consumer.rebalanceHookTimeout else {
            throw KafkaConfigurationError(
                key: "revokeDrainTimeout",
                message: "\(revokeDrainTimeout) must be at least 1 s below consumer.rebalanceHookTimeout "
                    + "(\(consumer.rebalanceHookTimeout)), which bounds the revoke's drain")
        }
        try Self.check("shutdownGracePeriod", shutdownGracePeriod, .zero ... .seconds(3600))
        try Self.check("shutdownDrainTimeout", shutdownDrainTimeout, .zero ... .seconds(3600))
        try Self.check("storePrepareTimeout", storePrepareTimeout, .zero ... .seconds(3600))
        try Self.check("summaryInterval", summaryInterval, .milliseconds(100) ... .seconds(86_400))
        try Self.check("commitMetadataMaxBytes", commitMetadataMaxBytes, 0...(1 << 20))
    }

    static func check(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws(KafkaConfigurationError) {
        guard range.contains(value) else {
            throw KafkaConfigurationError(
                key: key, message: "\(value) is outside the accepted range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    static func check(_ key: String, _ value: Duration, _ range: ClosedRange<Duration>) throws(KafkaConfigurationError) {
        guard range.contains(value) else {
            throw KafkaConfigurationError(key: key, message: "\(value) is outside the accepted range \(range.lowerBound)...\(range.upperBound)")
        }
    }
}

/// How records may run concurrently. Open: more modes may be added.
public struct OrderingMode: Sendable, Hashable, CustomStringConvertible {
    let rawValue: String
    /// One record at a time per partition, in offset order (the default).
    public static let partition = OrderingMode(rawValue: "partition")
    /// One record at a time per key within a partition; different keys in parallel. Records are spread over
    /// `maxConcurrency` lanes per partition by key hash, so two keys may share a lane (and wait for each other).
    public static let key = OrderingMode(rawValue: "key")
    /// Any order, bounded by `maxConcurrency`. Commits still only move past finished records.
    public static let unordered = OrderingMode(rawValue: "unordered")

    public var description: String { rawValue }

    /// Parses `partition`, `key` or `unordered`.
    public init?(name: String) {
        guard ["partition", "key", "unordered"].contains(name) else { return nil }
        self.rawValue = name
    }

    private init(rawValue: String) { self.rawValue = rawValue }
}
