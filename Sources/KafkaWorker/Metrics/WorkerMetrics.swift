import Metrics
import Synchronization

/// The worker's swift-metrics instruments (names in one place) and the totals behind the summary line.
final class WorkerMetrics: Sendable {
    enum Name {
        static let processed = "kafka_worker_records_processed_total"
        static let failed = "kafka_worker_attempts_failed_total"
        static let retried = "kafka_worker_records_retried_total"
        static let deadLettered = "kafka_worker_records_dead_lettered_total"
        static let deadLetterFailures = "kafka_worker_dead_letter_failures_total"
        static let inFlight = "kafka_worker_records_in_flight"
        static let buffered = "kafka_worker_records_buffered"
        static let processingTime = "kafka_worker_processing_duration_seconds"
        static let rebalances = "kafka_worker_rebalances_total"
        static let commitFailures = "kafka_worker_commit_failures_total"
        static let watchdog = "kafka_worker_watchdog_timeouts_total"
        static let duplicates = "kafka_worker_duplicates_skipped_total"
        static let locksLost = "kafka_worker_locks_lost_total"
        static let markersRemoved = "kafka_worker_markers_removed_total"
    }

    typealias Totals = WorkerStatistics

    private let processedCounter: Counter
    private let failedCounter: Counter
    private let retriedCounter: Counter
    private let deadLetteredCounter: Counter
    private let deadLetterFailureCounter: Counter
    private let rebalanceCounter: Counter
    private let group: String
    private let watchdogCounter: Counter
    private let duplicateCounter: Counter
    private let lockLostCounter: Counter
    private let markersRemovedCounter: Counter
    let inFlight: Gauge
    let buffered: Gauge
    let processingTime: Metrics.Timer
    private let totals = Mutex(Totals())

    init(group: String) {
        let dimensions = [("group", group)]
        processedCounter = Counter(label: Name.processed, dimensions: dimensions)
        failedCounter = Counter(label: Name.failed, dimensions: dimensions)
        retriedCounter = Counter(label: Name.retried, dimensions: dimensions)
        deadLetteredCounter = Counter(label: Name.deadLettered, dimensions: dimensions)
        deadLetterFailureCounter = Counter(label: Name.deadLetterFailures, dimensions: dimensions)
        rebalanceCounter = Counter(label: Name.rebalances, dimensions: dimensions)
        self.group = group
        watchdogCounter = Counter(label: Name.watchdog, dimensions: dimensions)
        duplicateCounter = Counter(label: Name.duplicates, dimensions: dimensions)
        lockLostCounter = Counter(label: Name.locksLost, dimensions: dimensions)
        markersRemovedCounter = Counter(label: Name.markersRemoved, dimensions: dimensions)
        inFlight = Gauge(label: Name.inFlight, dimensions: dimensions)
        buffered = Gauge(label: Name.buffered, dimensions: dimensions)
        processingTime = Metrics.Timer(label: Name.processingTime, dimensions: dimensions, preferredDisplayUnit: .seconds)
    }

    var snapshot: Totals { totals.withLock { $0 } }

    /// Counts `count` on `counter` and in the totals behind ``snapshot``.
    private func add(_ count: Int, to counter: Counter, _ total: WritableKeyPath<Totals, Int>) {
        guard count > 0 else { return }
        counter.increment(by: count)
        totals.withLock { $0[keyPath: total] += count }
    }

    func processed(_ count: Int) { add(count, to: processedCounter, \.processed) }

    func failedAttempt() { add(1, to: failedCounter, \.failed) }

    func retried() { add(1, to: retriedCounter, \.retried) }

    func deadLettered() { add(1, to: deadLetteredCounter, \.deadLettered) }

    func deadLetterFailed() { deadLetterFailureCounter.increment() }

    func rebalance() { add(1, to: rebalanceCounter, \.rebalances) }

    /// One family, one label set: group and code (a family registered with two label sets breaks Prometheus).
    func commitFailed(_ code: String) {
        Counter(label: Name.commitFailures, dimensions: [("group", group), ("code", code)]).increment()
    }

    func duplicatesSkipped(_ count: Int) { add(count, to: duplicateCounter, \.duplicatesSkipped) }

    func lockLost() { add(1, to: lockLostCounter, \.locksLost) }

    func markersRemoved(_ count: Int) { add(count, to: markersRemovedCounter, \.markersRemoved) }

    func watchdogFired() {
        watchdogCounter.increment()
        totals.withLock { $0.watchdog += 1 }
    }
}

/// What a worker has done so far.
public struct WorkerStatistics: Sendable, Equatable {
    /// Records finished without error: handled successfully, or skipped as duplicates.
    public var processed = 0
    /// Of `processed`, records skipped because the idempotency store had already recorded their dedup key.
    public var duplicatesSkipped = 0
    /// Leases lost while a record ran under a lock (the record was retried).
    public var locksLost = 0
    /// Idempotency markers removed by cleanup.
    public var markersRemoved = 0
    /// Handler attempts that threw (retried or not).
    public var failed = 0
    /// Attempts scheduled again after a failure.
    public var retried = 0
    /// Records delivered to a dead-letter topic.
    public var deadLettered = 0
    /// Records that ran past the watchdog deadline.
    public var watchdog = 0
    /// Assignments received.
    public var rebalances = 0

    public init() {}

    /// failed / (processed + failed); 0 when nothing happened. (The source chapter divided by processed only,
    /// which is infinite or NaN when nothing succeeded.)
    public var errorRate: Double {
        let attempts = processed + failed
        return attempts == 0 ? 0 : Double(failed) / Double(attempts)
    }
}
