import KafkaClient

/// Runs each record of a per-record worker under a distributed lock named after the record.
///
/// The lock is taken before the handler runs and renewed while it runs. A busy lock is retried with backoff
/// (never skipped); a lease lost mid-handler cancels the handler and retries the record. Use it to keep two
/// workers (or two consumer groups) off the same entity at once; pair it with an ``IdempotencyStore`` for
/// effects that must happen once.
public struct Locking<Value: Sendable>: Sendable {
    public var lock: any DistributedLock
    /// What the lock is named after (e.g. `.field("account") { $0.accountID }`); prefixed by `prefix`.
    public var name: DedupKey<Value>
    /// Prepended to every lock name (default `kafka-worker:lock:`).
    public var prefix = "kafka-worker:lock:"
    /// The lease (default 30 s), renewed every third of it while the handler runs. Range 100 ms ... 1 h.
    public var lease: Duration = .seconds(30)

    public init(lock: any DistributedLock, name: DedupKey<Value>) {
        self.lock = lock
        self.name = name
    }

    func lockName(for item: WorkerRecord<Value>) throws(MissingDedupKey) -> String {
        prefix + (try name.key(of: item))
    }

    func validate() throws(KafkaConfigurationError) {
        try WorkerConfiguration.check("locking.lease", lease, .milliseconds(100) ... .seconds(3600))
    }
}
