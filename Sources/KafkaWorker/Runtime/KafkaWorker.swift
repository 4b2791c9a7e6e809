import KafkaClient
public import Logging
public import ServiceLifecycle
import Synchronization

/// A Kafka consumer service that never loses a record and never commits past one that is not finished.
///
/// Records are handled per record or per batch, in `.partition` (default), `.key` or `.unordered` order,
/// with retries, a dead-letter topic, a hung-handler watchdog, commits on revoke and on shutdown, events,
/// metrics and a periodic summary line. It is a swift-service-lifecycle `Service`: run it in a
/// `ServiceGroup` (which turns SIGINT/SIGTERM into a graceful shutdown) or call ``run()`` yourself.
///
/// ```swift
/// let worker = KafkaWorker(configuration: .init(bootstrapServers: ["localhost:9092"], groupID: "orders",
///                                               topics: ["orders"]),
///                          decoder: JSONRecordDecoder<Order>()) { record in
///     try await process(record.value)
/// }
/// try await ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
/// ```
public final class KafkaWorker: Service, Sendable {
    public let configuration: WorkerConfiguration
    let handler: RecordHandler
    let store: StoreHooks?
    /// Checks of settings outside `configuration` (locking, marker cleanup), run at start.
    let checkSettings: @Sendable () throws(KafkaConfigurationError) -> Void
    let logger: Logger
    let clock: any Clock<Duration>
    let randomUnit: @Sendable () -> Double
    let eventSink: WorkerEventSink
    let metrics: WorkerMetrics
    private let state = Mutex(RunState.idle)

    private enum RunState {
        case idle
        case stopRequested(force: Bool)
        /// `run()` was called and is setting up; `stop` holds a stop asked for meanwhile (`true`: forced).
        case starting(stop: Bool?)
        case running(WorkerRun)
        case finished
    }

    /// A worker that handles one record at a time per ordering lane.
    /// - Parameters:
    ///   - locking: runs each record under a distributed lock named after it (see ``Locking``).
    ///   - clock: drives retry backoff (tests pass a clock that does not really sleep).
    ///   - random: a number in 0..<1 for backoff jitter (tests pass a fixed one).
    public convenience init<Decoder: RecordDecoder>(
        configuration: WorkerConfiguration, decoder: Decoder, locking: Locking<Decoder.Value>? = nil,
        logger: Logger = Logger(label: "kafka-worker"),
        clock: any Clock<Duration> = ContinuousClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        handler: @escaping @Sendable (WorkerRecord<Decoder.Value>) async throws -> Void
    ) {
        self.init(configuration: configuration, handler: .record(decoder, locking: locking, handler), store: nil,
                  checkSettings: { () throws(KafkaConfigurationError) in try locking?.validate() },
                  logger: logger, clock: clock, random: random)
    }

    /// A worker that skips records already processed (semantics 6 of the architecture): for each record, one
    /// transaction inserts its marker (insert-or-skip) and, if the marker is new, runs `handler` with the
    /// transaction; a duplicate is skipped and counted. Write through the transaction to make your writes and
    /// the marker commit together; the offset is stored only after COMMIT returned. Effects outside the store's
    /// database (an HTTP call) happen before the COMMIT: if the COMMIT then fails they can happen twice.
    public convenience init<Decoder: RecordDecoder, Store: IdempotencyStore>(
        configuration: WorkerConfiguration, decoder: Decoder, idempotency: Idempotency<Decoder.Value, Store>,
        locking: Locking<Decoder.Value>? = nil, logger: Logger = Logger(label: "kafka-worker"),
        clock: any Clock<Duration> = ContinuousClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        handler: @escaping @Sendable (WorkerRecord<Decoder.Value>, Store.Transaction) async throws -> Void
    ) {
        self.init(configuration: configuration, decoder: decoder, idempotency: idempotency, locking: locking, logger: logger,
                  clock: clock, random: random, prepare: { _ in }, handler: { record, _, transaction in try await handler(record, transaction) })
    }

    /// A worker that skips records already processed, with work done before the store's transaction: `prepare`
    /// runs first, outside the transaction and concurrently with other records (call a service, compute), and
    /// `handler` then gets its result inside the transaction, only when the marker is new — keep it to the
    /// writes. A store that groups transactions (SQLite's group commit) runs handlers one after another, so what
    /// waits belongs in `prepare`. `prepare` runs for a duplicate too (its result is then dropped), and again
    /// whenever the record is tried again — after its own failure, or when its store transaction failed (with group
    /// commit, another record's failure can fail the whole group). So it must have no effect outside that the
    /// marker would have to protect (a read, a quote, a computation), or be idempotent itself.
    public convenience init<Decoder: RecordDecoder, Store: IdempotencyStore, Prepared: Sendable>(
        configuration: WorkerConfiguration, decoder: Decoder, idempotency: Idempotency<Decoder.Value, Store>,
        locking: Locking<Decoder.Value>? = nil, logger: Logger = Logger(label: "kafka-worker"),
        clock: any Clock<Duration> = ContinuousClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        prepare: @escaping @Sendable (WorkerRecord<Decoder.Value>) async throws -> Prepared,
        handler: @escaping @Sendable (WorkerRecord<Decoder.Value>, Prepared, Store.Transaction) async throws -> Void
    ) {
        self.init(configuration: configuration,
                  handler: .record(decoder, idempotency: idempotency, locking: locking, group: configuration.groupID,
                                   prepare: prepare, handler),
                  store: StoreHooks(idempotency, group: configuration.groupID),
                  checkSettings: { () throws(KafkaConfigurationError) in
                      try locking?.validate()
                      try idempotency.cleanup?.validate()
                  },
                  logger: logger, clock: clock, random: random)
    }

    /// A batch worker that skips records already processed: one round trip inserts the batch's markers and tells
    /// which are new; `batchHandler` gets only those, inside the same transaction. Duplicates are counted.
    public convenience init<Decoder: RecordDecoder, Store: IdempotencyStore>(
        configuration: WorkerConfiguration, decoder: Decoder, idempotency: Idempotency<Decoder.Value, Store>,
        logger: Logger = Logger(label: "kafka-worker"),
        clock: any Clock<Duration> = ContinuousClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        batchHandler: @escaping @Sendable ([WorkerRecord<Decoder.Value>], Store.Transaction) async throws -> Void
    ) {
        self.init(configuration: configuration,
                  handler: .batch(decoder, idempotency: idempotency, group: configuration.groupID, batchHandler),
                  store: StoreHooks(idempotency, group: configuration.groupID),
                  checkSettings: { () throws(KafkaConfigurationError) in try idempotency.cleanup?.validate() },
                  logger: logger, clock: clock, random: random)
    }

    /// A worker that handles batches (up to `maxBatchSize` records of one lane, in order). A batch that keeps
    /// failing is split: each record is then tried alone, so only the failing ones are dead-lettered.
    public convenience init<Decoder: RecordDecoder>(
        configuration: WorkerConfiguration, decoder: Decoder, logger: Logger = Logger(label: "kafka-worker"),
        clock: any Clock<Duration> = ContinuousClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        batchHandler: @escaping @Sendable ([WorkerRecord<Decoder.Value>]) async throws -> Void
    ) {
        self.init(configuration: configuration, handler: .batch(decoder, batchHandler), store: nil, checkSettings: {},
                  logger: logger, clock: clock, random: random)
    }

    private init(configuration: WorkerConfiguration, handler: RecordHandler, store: StoreHooks?,
                 checkSettings: @escaping @Sendable () throws(KafkaConfigurationError) -> Void, logger: Logger,
                 clock: any Clock<Duration>, random: @escaping @Sendable () -> Double) {
        var logger = logger
        logger[metadataKey: LogKey.group] = "\(configuration.groupID)"
        self.configuration = configuration
        self.handler = handler
        self.store = store
        self.checkSettings = checkSettings
        self.logger = logger
        self.clock = clock
        self.randomUnit = random
        self.eventSink = WorkerEventSink(logger: logger)
        self.metrics = WorkerMetrics(group: configuration.groupID)
    }

    /// Everything the worker reports, as it happens (also written to the log). Meant for one reader; the
    /// newest 4,096 are kept when nobody reads.
    public var events: AsyncStream<WorkerEvent> { eventSink.stream }

    /// Totals so far.
    public var statistics: WorkerStatistics { metrics.snapshot }

    /// Whether ``run()`` has returned.
    public var isStopped: Bool {
        state.withLock { if case .finished = $0 { true } else { false } }
    }

    /// Stops the worker: gracefully (drain up to the grace period, commit, leave the group), or at once with
    /// `force` (nothing unfinished is committed). Safe to call at any time, more than once.
    public func stop(force: Bool = false) {
        let run: WorkerRun? = state.withLock { state in
            switch state {
            case .idle:
                state = .stopRequested(force: force)
                return nil
            case .stopRequested(let wasForced):
                state = .stopRequested(force: wasForced || force)
                return nil
            case .starting(let stop):
                state = .starting(stop: (stop ?? false) || force)
                return nil
            case .running(let run): return run
            case .finished: return nil
            }
        }
        guard let run else { return }
        run.beginStop(halting: force)
        if force { run.forced.fire() }
        run.stopRequested.fire()
    }

    /// Runs until stopped (``stop(force:)``, graceful shutdown of the service group, task cancellation) or until
    /// it cannot go on (throws: bad configuration, cluster unreachable at start, fatal client error).
    public func run() async throws {
        // Claimed at once: a second call, even a concurrent one, is refused.
        let claimed = state.withLock { state -> Bool in
            switch state {
            case .starting, .running, .finished: return false
            case .idle:
                state = .starting(stop: nil)
                return true
            case .stopRequested(let force):
                state = .starting(stop: force)
                return true
            }
        }
        guard claimed else {
            throw KafkaConfigurationError(key: "run", message: "a KafkaWorker runs once; create a new one to run again")
        }
        do {
            try await start()
        } catch {
            // Whatever failed (settings, store, consumer, subscribe), the worker is over, not running.
            state.withLock { $0 = .finished }
            eventSink.finish()
            throw error
        }
    }

    private func start() async throws {
        try configuration.validate()
        try checkSettings()
        if let store, try await !prepare(store) {
            logger.info("worker stopped before it started (the idempotency store was still unavailable)")
            state.withLock { $0 = .finished }
            eventSink.finish()
            return
        }
        let relay = RebalanceRelay(readsCommitted: configuration.commitMetadataMaxBytes > 0)
        // The worker commits itself (its commit loop, revokes, the shutdown): librdkafka's auto-commit would send the
        // stored offsets without the finished offsets above them (librdkafka < 2.2 keeps no metadata for stored
        // offsets), also when it closes, over a commit that carried them.
        var consumerConfiguration = configuration.consumer
        consumerConfiguration.commit.autoCommit = false
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, rebalanceHooks: relay.hooks, logger: logger)
        let deadLetters = try await makeDeadLetterPublisher()
        let run = WorkerRun(
            configuration: configuration, consumer: consumer,
            runner: RecordRunner(handler: handler, retry: configuration.retry, watchdog: configuration.watchdog,
                                 deadLetters: deadLetters, clock: clock, randomUnit: randomUnit, events: eventSink,
                                 metrics: metrics, wakeup: WorkerSignal(latching: false),
                                 deadLetterMarks: store.map { ($0.wasDeadLettered, $0.markDeadLettered) }),
            events: eventSink, metrics: metrics, logger: logger)
        relay.target.withLock { $0 = run }
        defer { relay.target.withLock { $0 = nil } }
        let pendingStop: Bool? = state.withLock { state in
            defer { state = .running(run) }
            if case .starting(let stop) = state { return stop }
            return nil
        }
        if let force = pendingStop {
            run.beginStop()
            if force { run.forced.fire() }
            run.stopRequested.fire()
        }

        do {
            try await consumer.subscribe(topics: configuration.topics)
        } catch {
            await consumer.close()
            if let deadLetters { await deadLetters.producer.close(timeout: .seconds(5)) }
            throw error
        }
        logger.info("worker started", metadata: ["topics": "\(configuration.topics)", "ordering": "\(configuration.ordering)",
                                                 "max_concurrency": "\(configuration.maxConcurrency)"])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await run.intake() }
                    group.addTask { await run.forwardConsumerEvents() }
                    group.addTask { await run.coordinateShutdown() }
                    group.addTask { await run.summaryLoop() }
                    group.addTask { await run.maintenanceLoop() }
                    if self.configuration.consumer.commit.autoCommit {
                        group.addTask { await run.commitLoop(every: self.configuration.consumer.commit.interval) }
                    }
                    if let store = self.store, let cleanup = store.cleanup {
                        group.addTask { await run.markerCleanupLoop(store, cleanup) }
                    }
                    for await lane in run.laneStarts {
                        group.addTask { await run.runLane(lane) }
                    }
                    // The consumer is closed: lanes still running hold records abandoned after the grace period
                    // (not committed). Cancel their handlers; one that ignores cancellation keeps run() waiting.
                    group.cancelAll()
                }
            } onCancel: {
                self.stop(force: true)
            }
        } onGracefulShutdown: {
            self.stop()
        }
        if let deadLetters { await deadLetters.producer.close(timeout: .seconds(5)) }
        state.withLock { $0 = .finished }
        eventSink.finish()
        if let failure = run.failure.withLock({ $0 }) { throw failure }
    }

    /// Prepares the store, retrying transient failures (a database restarting just as the worker starts) until
    /// `storePrepareTimeout`; any other failure, or one that lasts, fails the start naming the key. Returns `false`
    /// when a stop was asked for (or the task cancelled) while it waited: the worker then ends without starting.
    private func prepare(_ store: StoreHooks) async throws -> Bool {
        let deadline = ContinuousClock.now + configuration.storePrepareTimeout
        var attempt = 0
        while true {
            do {
                try await store.prepare()
                return true
            } catch let error as any TransientDependencyError where ContinuousClock.now < deadline {
                attempt += 1
                logger.warning("idempotency store unavailable at start; retrying",
                               metadata: [LogKey.error: "\(error)", "attempt": "\(attempt)"])
                // Back off (0.2 s doubling to 1.6 s), looking for a stop every 50 ms.
                let until = min(ContinuousClock.now + .milliseconds(100 << min(attempt, 4)), deadline)
                while ContinuousClock.now < until {
                    if Task.isCancelled || stopAskedWhileStarting { return false }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            } catch {
                throw KafkaConfigurationError(
                    key: "idempotency.store",
                    message: "cannot prepare the idempotency store: \(error)"
                        + (error is any TransientDependencyError ? " (still failing after \(configuration.storePrepareTimeout))" : ""))
            }
        }
    }

    /// A stop asked for while `run()` is still starting.
    private var stopAskedWhileStarting: Bool {
        state.withLock { if case .starting(let stop) = $0 { stop != nil } else { false } }
    }

    private func makeDeadLetterPublisher() async throws -> DeadLetterPublisher? {
        guard configuration.deadLetter.enabled else { return nil }
        var producerConfiguration = configuration.deadLetter.producer
            ?? KafkaProducerConfiguration(bootstrapServers: configuration.consumer.connection.bootstrapServers)
        if configuration.deadLetter.producer == nil {
            producerConfiguration.connection = configuration.consumer.connection
            producerConfiguration.deliveryTimeout = .seconds(30)
        }
        let publisher = DeadLetterPublisher(
            producer: try KafkaProducer(configuration: producerConfiguration, logger: logger),
            configuration: configuration.deadLetter, group: configuration.groupID,
            secrets: configuration.consumer.connection.secretValues + producerConfiguration.connection.secretValues)
        if configuration.deadLetter.createTopics {
            await publisher.prepareTopics(for: configuration.topics, logger: logger)
        }
        return publisher
    }
}

/// Lets the consumer's rebalance hooks reach the run, which is created after the consumer.
private final class RebalanceRelay: Sendable {
    let target = Mutex<WorkerRun?>(nil)
    /// Whether assignments read the committed offsets' metadata (finished offsets to skip).
    let readsCommitted: Bool
    init(readsCommitted: Bool) { self.readsCommitted = readsCommitted }

    /// Every state change runs synchronously on the poll thread, in the order of the rebalance; only the drain
    /// awaits. The run is set before the consumer subscribes, so no rebalance can find it missing.
    var hooks: KafkaRebalanceHooks {
        KafkaRebalanceHooks(
            assign: { [self] partitions, generation, committed in
                self.target.withLock { $0 }?.partitionsAssigned(partitions, generation: generation, committed: committed)
            },
            readsCommitted: readsCommitted,
            revoke: { [self] partitions, lost in self.target.withLock { $0 }?.beginRevoke(partitions, lost: lost) },
            drain: { [self] partitions in await self.target.withLock { $0 }?.drainRevoked(partitions) },
            completeRevoke: { [self] partitions, lost in
                self.target.withLock { $0 }?.completeRevoke(partitions, lost: lost) ?? []
            })
    }
}
