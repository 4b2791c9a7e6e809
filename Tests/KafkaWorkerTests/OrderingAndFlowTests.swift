import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

/// How many handlers run at once, and the most seen.
final class ConcurrencyMeter: Sendable {
    private let state = Mutex<(now: Int, peak: Int)>((0, 0))
    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}

@Suite("Ordering, concurrency, back-pressure and batches", .timeLimit(.minutes(2)))
struct OrderingAndFlowTests {
    @Test(".key: each key's records run one at a time, in order, while different keys run in parallel")
    func perKeyOrdering() async throws {
        let topic = try KafkaTesting.topic("bykey", partitions: 2)
        var records: [KafkaProducerRecord] = []
        for seq in 0..<50 {
            for customer in 0..<20 {
                records.append(itemRecord(topic: topic, id: "c\(customer)-\(seq)", key: "customer-\(customer)", seq: seq))
            }
        }
        try await produce(records)
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 8
        let meter = ConcurrencyMeter()
        let lastSeq = Mutex<[String: Int]>([:])
        let violations = Mutex<[String]>([])
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            meter.enter()
            defer { meter.leave() }
            let key = record.keyString!
            let seq = record.value.seq!
            let previous = lastSeq.withLock { $0[key] ?? -1 }
            if previous != seq - 1 { violations.withLock { $0.append("\(key): \(previous) then \(seq)") } }
            try await Task.sleep(for: .microseconds(Int.random(in: 0...500)))
            lastSeq.withLock { $0[key] = seq }
        })
        try await waitUntil("1,000 handled") { worker.worker.statistics.processed == 1_000 }
        try await worker.stop()
        #expect(violations.withLock { $0 }.isEmpty, "\(violations.withLock { $0.prefix(5) })")
        #expect(lastSeq.withLock { $0 }.values.allSatisfy { $0 == 49 })
        #expect(meter.peak > 1, "keys ran in parallel (peak \(meter.peak))")
        #expect(meter.peak <= 8)
    }

    @Test("slow handlers with a full buffer: fetching pauses, and a member joining still gets its partition in bounded time")
    func slowHandlerNoRebalance() async throws {
        let topic = try KafkaTesting.topic("slow", partitions: 2)
        try await produce((0..<120).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 2)) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.consumer.session.maxPollInterval = .seconds(6)  // as low as librdkafka allows
        configuration.maxBufferedRecords = 20
        configuration.maxBufferedRecordsPerPartition = 10
        configuration.maxBatchSize = 5
        configuration.maxConcurrency = 2
        let seen = Ledger()
        let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
            try await Task.sleep(for: .milliseconds(100))
            seen.note(record.value.id)
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a is busy", within: .seconds(30)) { a.worker.statistics.processed >= 10 }
        // 120 × 100 ms over 2 lanes ≈ 6 s of work, longer than max.poll.interval.ms: a is never kicked out (it
        // keeps polling), and a second member's rebalance completes while a's handlers are slow.
        let joinedAt = ContinuousClock.now
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("b gets a partition", within: .seconds(25)) { !b.events(.assigned).flatMap(\.partitions).isEmpty }
        #expect(ContinuousClock.now - joinedAt < .seconds(25))
        try await waitUntil("120 handled", within: .seconds(60)) { Set(seen.order).count == 120 }
        try await a.stop()
        try await b.stop()
        #expect(a.events(.lost).isEmpty, "a was never kicked out for being slow")
        #expect(b.events(.lost).isEmpty)
        #expect(a.events(.revoked).count >= 1, "a gave a partition up in an orderly revoke")
    }

    @Test("batch handler: batches in order per partition; a failing record splits its batch and alone is dead-lettered")
    func batches() async throws {
        let topic = try KafkaTesting.topic("batch")
        var records = (0..<200).map { itemRecord(topic: topic, id: "i\($0)") }
        records[57] = KafkaProducerRecord(topic: topic, key: "i57", value: "not json")
        try await produce(records)
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.maxBatchSize = 50
        let handled = Mutex<[String]>([])
        let sizes = Mutex<[Int]>([])
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger, batchHandler: { batch in
            sizes.withLock { $0.append(batch.count) }
            if batch.contains(where: { $0.value.id == "i120" }) { throw NonRetriableError("i120 is refused") }
            handled.withLock { $0 += batch.map(\.value.id) }
        }))
        try await waitUntil("all finished") {
            worker.worker.statistics.processed + worker.worker.statistics.deadLettered == 200
        }
        try await worker.stop()
        #expect(sizes.withLock { $0 }.allSatisfy { $0 <= 50 })
        #expect(sizes.withLock { $0 }.contains { $0 > 1 })
        let expected = (0..<200).filter { $0 != 57 && $0 != 120 }.map { "i\($0)" }
        #expect(handled.withLock { $0 } == expected, "each once, in order")
        #expect(worker.worker.statistics.deadLettered == 2)
        let offsets = Set(worker.events(.deadLettered).compactMap { $0.record?.offset })
        #expect(offsets == [57, 120])
    }
}
