import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import Logging

/// Kafka → SQLite with the per-record idempotent handler and a handler that awaits `latency` (simulated I/O), four
/// ways, each into a fresh database file:
/// - I/O inside the transaction, a COMMIT per record (`maxGroupSize` 1): what a per-record SQLite worker did before
///   group commit — one record at a time, one fsync each;
/// - I/O inside the transaction, group commit: the COMMITs are shared, the I/O still runs one record at a time;
/// - I/O in `prepare`, group commit: the I/O runs concurrently, only the INSERTs take turns;
/// - the batch handler, I/O once per batch.
/// The two slow ones read `slowRecords`. Prints prepare+group/one-commit-each last.
struct SQLiteSinkBench {
    let contenders: BenchContenders
    let latency: Duration
    let records: Int
    let slowRecords: Int

    struct Row: Decodable, Sendable { var id: Int }

    private static let before = "per record, I/O in txn, 1 commit each"
    private static let headline = "per record, I/O in prepare, group"

    func run(concurrency: Int, ordering: OrderingMode) async throws -> [String] {
        var table = BenchTable()
        table.add(Self.before, try await perRecord(ioInPrepare: false, maxGroupSize: 1, concurrency: concurrency,
                                                   ordering: ordering, count: slowRecords))
        table.add("per record, I/O in txn, group", try await perRecord(ioInPrepare: false, maxGroupSize: 100,
                                                                       concurrency: concurrency, ordering: ordering, count: slowRecords))
        table.add(Self.headline, try await perRecord(ioInPrepare: true, maxGroupSize: 100, concurrency: concurrency,
                                                     ordering: ordering, count: records))
        table.add("batch, I/O per batch", try await batch(concurrency: concurrency, ordering: ordering, count: records))
        return ["handler awaits \(format2(latency.seconds * 1_000)) ms; ordering \(ordering), maxConcurrency \(concurrency); "
                + "SQLite synchronous=FULL in WAL mode"]
            + table.lines(baseline: Self.before, headline: Self.headline, baselineLabel: "1 commit each")
    }

    private func perRecord(ioInPrepare: Bool, maxGroupSize: Int, concurrency: Int, ordering: OrderingMode,
                           count: Int) async throws -> BenchResult {
        let (store, path) = try await Self.store(maxGroupSize: maxGroupSize)
        defer { Self.remove(path) }
        let meter = Meter(target: count)
        let latency = self.latency
        let worker = KafkaWorker(configuration: configuration("sqlite-record", concurrency, ordering), decoder: RawRecordDecoder(),
                                 idempotency: Idempotency(store: store, key: .topicPartitionOffset), logger: contenders.logger,
                                 prepare: { _ in if ioInPrepare { try await Task.sleep(for: latency) } },
                                 handler: { record, _, transaction in
                                     if !ioInPrepare { try await Task.sleep(for: latency) }
                                     try await transaction.execute("INSERT INTO bench_rows VALUES (?, ?)", Self.row(record))
                                     meter.tick()
                                 })
        return try await BenchResult.measured { try await BenchResult.timing(worker, until: meter) }
    }

    private func batch(concurrency: Int, ordering: OrderingMode, count: Int) async throws -> BenchResult {
        let (store, path) = try await Self.store(maxGroupSize: 100)
        defer { Self.remove(path) }
        let meter = Meter(target: count)
        let latency = self.latency
        let worker = KafkaWorker(configuration: configuration("sqlite-batch", concurrency, ordering), decoder: RawRecordDecoder(),
                                 idempotency: Idempotency(store: store, key: .topicPartitionOffset),
                                 logger: contenders.logger) { records, transaction in
            try await Task.sleep(for: latency)
            for record in records { try await transaction.execute("INSERT INTO bench_rows VALUES (?, ?)", Self.row(record)) }
            meter.tick(records.count)
        }
        return try await BenchResult.measured { try await BenchResult.timing(worker, until: meter) }
    }

    private func configuration(_ name: String, _ concurrency: Int, _ ordering: OrderingMode) -> WorkerConfiguration {
        var configuration = WorkerConfiguration(bootstrapServers: contenders.servers, groupID: "", topics: [contenders.topic])
        configuration.consumer = contenders.consumerConfiguration(name)
        configuration.deadLetter.enabled = false
        configuration.maxConcurrency = concurrency
        configuration.ordering = ordering
        return configuration
    }

    private static func row(_ record: WorkerRecord<KafkaRecord>) -> [SQLiteValue] {
        [.text("\(record.partition)/\(record.offset)"), .text(String(decoding: record.record.value ?? [], as: UTF8.self))]
    }

    private static func store(maxGroupSize: Int) async throws -> (SQLiteIdempotencyStore, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kafka-worker-bench-\(UUID().uuidString).db").path
        var configuration = SQLiteIdempotencyStore.Configuration(path: path)
        configuration.maxGroupSize = maxGroupSize
        let store = try SQLiteIdempotencyStore(configuration: configuration)
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE bench_rows (position TEXT PRIMARY KEY, payload TEXT NOT NULL)")
        }
        return (store, path)
    }

    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
