import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

@Suite("Idempotency and locks in the worker (in-memory implementations)", .timeLimit(.minutes(2)))
struct IdempotencyAndLockingTests {
    @Test("a busy lock is retried without limit, never skipped or dead-lettered")
    func busyLockIsRetriedNeverSkipped() async throws {
        let topic = try KafkaTesting.topic("lock-busy")
        try await produce([itemRecord(topic: topic, id: "a"), itemRecord(topic: topic, id: "b")])
        let lock = InMemoryLock()
        // Someone else holds "a" for a while.
        let held = try #require(try await lock.tryAcquire("kafka-worker:lock:a", lease: .seconds(60)))
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.retry = RetryPolicy(maxAttempts: 2, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(50))
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               locking: Locking(lock: lock, name: .field("id") { $0.id }),
                                               logger: KafkaTesting.logger) { record in ledger.note(record.value.id) })
        // More busy retries than maxAttempts allows for failures; then the holder lets go.
        try await waitUntil("three busy retries") { worker.events(.retrying).count >= 3 }
        #expect(ledger.total == 0)
        #expect(try await lock.release(held))
        try await waitUntil("both handled") { worker.worker.statistics.processed == 2 }
        try await worker.stop()
        #expect(ledger.order == ["a", "b"], "b waited behind a (partition order), nothing skipped")
        #expect(worker.worker.statistics.deadLettered == 0)
        #expect(worker.worker.statistics.retried >= 3, "retried past maxAttempts while busy")
        #expect(worker.events(.retrying).allSatisfy { $0.error?.contains("held by another owner") == true })
    }

    @Test("a dedup key read from a header: each message id applied once across partitions; no header → dead letter")
    func headerDedupKey() async throws {
        let topic = try KafkaTesting.topic("header-key", partitions: 2)
        func message(_ id: String?, _ partition: Int32) -> KafkaProducerRecord {
            var record = itemRecord(topic: topic, id: id ?? "none", partition: partition)
            record.headers = id.map { [KafkaHeader(name: "trace", string: "t"), KafkaHeader(name: "message-id", string: $0)] } ?? []
            return record
        }
        // 30 message ids, each sent to both partitions; one record without the header.
        try await produce((0..<30).flatMap { [message("m\($0)", 0), message("m\($0)", 1)] } + [message(nil, 0)])
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(
            configuration: KafkaTesting.workerConfiguration(topics: [topic]), decoder: JSONRecordDecoder<Item>(),
            idempotency: Idempotency(store: InMemoryIdempotencyStore(), key: .header("message-id")),
            logger: KafkaTesting.logger) { record, _ in ledger.note(record.value.id) })
        try await waitUntil("61 records finished") {
            worker.worker.statistics.processed + worker.worker.statistics.deadLettered == 61
        }
        try await worker.stop()
        #expect(ledger.total == 30 && Set(ledger.order) == Set((0..<30).map { "m\($0)" }))
        #expect(worker.worker.statistics.duplicatesSkipped == 30)
        #expect(worker.worker.statistics.deadLettered == 1)
        #expect(worker.events(.deadLettered).first?.error?.contains("message-id") == true)
    }

    @Test("markers are cleaned up after the window, only below committed offsets")
    func markerCleanupInTheWorker() async throws {
        let topic = try KafkaTesting.topic("cleanup")
        try await produce((0..<20).map { itemRecord(topic: topic, id: "i\($0)") })
        // Markers are recorded "a day ago", so they are past a one-hour window at once.
        let store = InMemoryIdempotencyStore(now: { Date().addingTimeInterval(-86_400) })
        var idempotency = Idempotency(store: store, key: DedupKey<Item>.field("id") { $0.id })
        idempotency.cleanup?.window = .seconds(3_600)
        idempotency.cleanup?.interval = .seconds(1)
        idempotency.cleanup?.batchSize = 7
        let worker = RunningWorker(KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: [topic]),
                                               decoder: JSONRecordDecoder<Item>(), idempotency: idempotency,
                                               logger: KafkaTesting.logger) { _, _ in })
        try await waitUntil("20 handled") { worker.worker.statistics.processed == 20 }
        #expect(store.count == 20)
        try await waitUntil("markers below the committed offset removed", within: .seconds(20)) {
            worker.worker.statistics.markersRemoved == 20
        }
        try await worker.stop()
        #expect(store.count == 0)
        #expect(!worker.events(.markersCleaned).isEmpty)
    }

    @Test("a lock lease out of range fails at start, naming the key")
    func badLease() async throws {
        var locking = Locking(lock: InMemoryLock(), name: DedupKey<Item>.recordKey)
        locking.lease = .milliseconds(5)
        let worker = KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: ["t"]), decoder: JSONRecordDecoder<Item>(),
                                 locking: locking, logger: KafkaTesting.logger) { _ in }
        do {
            try await worker.run()
            Issue.record("started with a bad setting")
        } catch let error as KafkaConfigurationError {
            #expect(error.key == "locking.lease")
        }
    }

    @Test("a marker cleanup setting out of range fails at start, naming the key")
    func badCleanupSetting() async throws {
        var idempotency = Idempotency(store: InMemoryIdempotencyStore(), key: DedupKey<Item>.recordKey)
        idempotency.cleanup?.batchSize = 0
        let worker = KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: ["t"]), decoder: JSONRecordDecoder<Item>(),
                                 idempotency: idempotency, logger: KafkaTesting.logger) { _, _ in }
        do {
            try await worker.run()
            Issue.record("started with a bad setting")
        } catch let error as KafkaConfigurationError {
            #expect(error.key == "idempotency.cleanup.batchSize")
        }
    }
}
