import KafkaClient

/// Turns on deduplication for a worker: the store, the dedup key, and the cleanup of old markers.
public struct Idempotency<Value: Sendable, Store: IdempotencyStore>: Sendable {
    public var store: Store
    public var key: DedupKey<Value>
    /// Removal of old markers; `nil` keeps them forever.
    public var cleanup: MarkerCleanup? = MarkerCleanup()

    public init(store: Store, key: DedupKey<Value>) {
        self.store = store
        self.key = key
    }
}

/// How old markers are removed: in bounded batches, only markers recorded longer than `window` ago and only
/// below the committed offset of a partition this worker holds (a record that may still be redelivered keeps
/// its marker). Choose `window` longer than the longest time a duplicate can arrive late (producer retries,
/// dead-letter replays, a consumer group reset).
public struct MarkerCleanup: Sendable {
    /// Markers younger than this are kept (default 7 days). Range 1 s ... 3650 days.
    public var window: Duration = .seconds(7 * 86_400)
    /// How often cleanup runs (default 10 minutes). Range 1 s ... 1 day.
    public var interval: Duration = .seconds(600)
    /// Markers deleted per statement (default 5,000), so cleanup never holds long locks. Range 1...1000000.
    public var batchSize: Int = 5_000
    /// Statements per partition per run at most (default 100); the rest waits for the next run.
    public var maxBatchesPerRun: Int = 100

    public init() {}

    func validate() throws(KafkaConfigurationError) {
        try WorkerConfiguration.check("idempotency.cleanup.window", window, .seconds(1) ... .seconds(3650 * 86_400))
        try WorkerConfiguration.check("idempotency.cleanup.interval", interval, .seconds(1) ... .seconds(86_400))
        try WorkerConfiguration.check("idempotency.cleanup.batchSize", batchSize, 1...1_000_000)
        try WorkerConfiguration.check("idempotency.cleanup.maxBatchesPerRun", maxBatchesPerRun, 1...1_000_000)
    }
}
