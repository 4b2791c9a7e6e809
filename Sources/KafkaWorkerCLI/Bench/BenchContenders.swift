import Foundation
import KafkaClient
import KafkaWorker
import Logging
import Synchronization

struct BenchResult {
    var records: Int
    var elapsed: Duration
    /// The resident set's peak during the run (``PeakMemory``).
    var peakBytes = 0
    var recordsPerSecond: Double { elapsed > .zero ? Double(records) / elapsed.seconds : 0 }

    /// Runs `worker` until `meter` has counted its target, then stops it; the time from the first record to the
    /// target-th. (Memory: wrap it in ``measured(_:)``.)
    static func timing(_ worker: KafkaWorker, until meter: Meter) async throws -> BenchResult {
        let running = Task { try await worker.run() }
        let elapsed = await meter.wait()
        worker.stop()
        try await running.value
        return BenchResult(records: meter.target, elapsed: elapsed)
    }

    /// Runs `body` and adds the resident set's peak meanwhile.
    static func measured(_ body: () async throws -> BenchResult) async throws -> BenchResult {
        var (result, peak) = try await PeakMemory.measure(body)
        result.peakBytes = peak
        return result
    }
}

extension Array {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var all: [T] = []
        for element in self { all += try await transform(element) }
        return all
    }
}

/// The things measured: each reads the topic from the beginning in a fresh consumer group.
struct BenchContenders {
    let servers: [String]
    let topic: String
    let bufferedPerPartition: Int?
    let logger: Logger

    func consumerConfiguration(_ name: String) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: servers, groupID: "bench-\(name)-\(UUID().uuidString)")
        configuration.session.timeout = .seconds(6)
        configuration.session.heartbeatInterval = .seconds(1)
        configuration.commit.interval = .seconds(1)
        return configuration
    }

    func bare(count: Int) async throws -> BenchResult {
        let result = try await BareConsumerLoop.run(configuration: consumerConfiguration("bare"), topics: [topic], count: count)
        return BenchResult(records: result.records, elapsed: result.elapsed)
    }

    /// The worker with a handler that does nothing: what the framework itself costs.
    func worker(mode: OrderingMode, count: Int, readHeaders: Bool = true) async throws -> BenchResult {
        var configuration = WorkerConfiguration(bootstrapServers: servers, groupID: "", topics: [topic])
        configuration.consumer = consumerConfiguration("worker-\(mode)")
        configuration.consumer.fetch.readHeaders = readHeaders
        configuration.ordering = mode
        configuration.deadLetter.enabled = false
        if let bufferedPerPartition {
            configuration.maxBufferedRecordsPerPartition = bufferedPerPartition
            configuration.maxBufferedRecords = max(configuration.maxBufferedRecords, bufferedPerPartition)
        }
        let meter = Meter(target: count)
        let worker = KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), logger: logger,
                                 handler: { _ in meter.tick() })
        return try await BenchResult.timing(worker, until: meter)
    }

    /// `KafkaConsumer` alone: the poll thread, record conversion and the batch hand-off, no worker.
    func consumerBatches(count: Int) async throws -> BenchResult {
        try await consume("consumer", count: count) { consumer, batch in
            consumer.storeOffsets(batch.nextOffsets)
        }
    }

    /// The source chapter's pattern: handle a record, then commit its offset synchronously, one by one.
    func commitPerRecord(count: Int) async throws -> BenchResult {
        try await consume("seed", count: count) { consumer, batch in
            for record in batch { try await consumer.commit([record.nextOffset]) }
        }
    }

    /// Reads `count` records with a plain consumer, calling `perBatch` on each batch; times first to last.
    func consume(_ name: String, count: Int,
                         perBatch: (KafkaConsumer, ArraySlice<KafkaRecord>) async throws -> Void) async throws -> BenchResult {
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(name), logger: logger)
        try await consumer.subscribe(topics: [topic])
        let clock = ContinuousClock()
        var first: ContinuousClock.Instant?
        var seen = 0
        for try await batch in consumer.batches {
            if first == nil { first = clock.now }
            let wanted = batch.prefix(count - seen)
            try await perBatch(consumer, wanted)
            seen += wanted.count
            if seen >= count { break }
        }
        let elapsed = first.map { clock.now - $0 } ?? .zero
        await consumer.close()
        return BenchResult(records: seen, elapsed: elapsed)
    }
}

/// Counts handled records; measures from the first to the `target`-th.
final class Meter: Sendable {
    private let count = Atomic<Int>(0)
    private let started = Mutex<ContinuousClock.Instant?>(nil)
    private let done = Mutex<(Duration?, CheckedContinuation<Duration, Never>?)>((nil, nil))
    let target: Int

    init(target: Int) { self.target = target }

    func tick(_ records: Int = 1) {
        let (before, seen) = count.add(records, ordering: .relaxed)
        if before == 0 { started.withLock { $0 = ContinuousClock.now } }
        if before < target && seen >= target {
            let now = ContinuousClock.now
            let elapsed = now - (started.withLock { $0 } ?? now)
            let waiter = done.withLock { state in
                state.0 = elapsed
                defer { state.1 = nil }
                return state.1
            }
            waiter?.resume(returning: elapsed)
        }
    }

    func wait() async -> Duration {
        await withCheckedContinuation { continuation in
            let ready = done.withLock { state -> Duration? in
                if let elapsed = state.0 { return elapsed }
                state.1 = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
