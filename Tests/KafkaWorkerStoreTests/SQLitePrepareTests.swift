import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

/// The idempotent worker's `prepare`: it runs before the store's transaction, concurrently, and its result reaches
/// the handler inside the transaction; a failure in it is retried like the handler's.
@Suite("Idempotent worker with prepare (SQLite group commit)", .timeLimit(.minutes(2)))
struct SQLitePrepareTests {
    @Test("prepare's results reach the handler; prepares overlap while handlers take turns; a failing prepare is retried; one effect each")
    func prepareRunsOutsideTheTransaction() async throws {
        let topic = try KafkaTesting.topic("sqlite-prepare", partitions: 2)
        try await KafkaTesting.send(Orders.records(topic: topic, count: 200, duplicates: 0, partitions: 2))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-prepare")).db").path
        let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE effects (id TEXT NOT NULL, quote TEXT NOT NULL)")
        }
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .unordered
        configuration.maxConcurrency = 32
        configuration.deadLetter.enabled = false
        let prepares = Mutex<[String: Int]>([:])
        let running = Mutex((now: 0, most: 0))
        let worker = RunningWorker(KafkaWorker(
            configuration: configuration, decoder: JSONRecordDecoder<Order>(),
            idempotency: Idempotency(store: store, key: .field("id") { $0.id }), logger: KafkaTesting.logger,
            prepare: { record in
                let attempt = prepares.withLock { $0[record.value.id, default: 0] += 1; return $0[record.value.id]! }
                running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                defer { running.withLock { $0.now -= 1 } }
                try await Task.sleep(for: .milliseconds(20))
                if record.value.id.hasSuffix("7"), attempt == 1 { throw TransientStoreError(reason: "quote service busy") }
                return "quote-\(record.value.id)-\(attempt)"
            },
            handler: { record, quote, transaction in
                try await transaction.execute("INSERT INTO effects VALUES (?, ?)", [.text(record.value.id), .text(quote)])
            }))
        try await waitUntil("200 records finished", within: .seconds(60)) { worker.worker.statistics.processed == 200 }
        try await worker.stop()
        let rows = try await store.withMarkers([]) { transaction, _ in try await transaction.execute("SELECT id, quote FROM effects") }
        let quotes = Dictionary(rows.map { ($0[0].text!, $0[1].text!) }, uniquingKeysWith: { first, _ in first })
        #expect(rows.count == 200 && quotes.count == 200, "one effect per record: \(rows.count) rows, \(quotes.count) ids")
        for (id, quote) in quotes {
            // The handler wrote what prepare returned for the attempt that succeeded.
            #expect(quote == "quote-\(id)-\(id.hasSuffix("7") ? 2 : 1)", "\(id): \(quote)")
        }
        #expect(prepares.withLock { $0.filter { $0.key.hasSuffix("7") }.allSatisfy { $0.value == 2 } }, "a failing prepare is tried again")
        // Handlers take turns inside the store's transactions; the prepares, outside them, ran side by side.
        #expect(running.withLock { $0.most } > 4, "prepares overlapped (at most \(running.withLock { $0.most }) at once)")
        #expect(store.statistics.transactions < store.statistics.committedCalls, "records shared transactions: \(store.statistics)")
    }
}
