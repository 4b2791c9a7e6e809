import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// The intake waits for room when the worker holds `maxBufferedRecords`; every change that makes room must wake
/// it (a flush that ends exactly at the limit, a revoke that drops records in bulk).
@Suite("Intake never stays parked while there is room", .timeLimit(.minutes(3)))
struct IntakeStallTests {
    @Test("one worker, maxBufferedRecords 100, 5,000 records on one partition: all handled")
    func smallBufferDoesNotStall() async throws {
        let topic = try KafkaTesting.topic("stall-small")
        try await produce((0..<5_000).map { itemRecord(topic: topic, id: "i\($0)", partition: 0) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.maxBufferedRecords = 100
        configuration.maxBufferedRecordsPerPartition = 100
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in ledger.note(record.value.id) })
        try await waitUntil("5,000 handled", within: .seconds(60)) { worker.worker.statistics.processed == 5_000 }
        try await worker.stop()
        #expect(ledger.total == 5_000)
        #expect(try await committed(configuration.groupID, topic) == 5_000)
    }

    /// Under the cooperative protocol (the default on librdkafka ≥ 2.10) `a` keeps one partition and handles it
    /// through both rounds of the rebalance (about 5 s each on the embedded cluster). With 10,000 records per
    /// partition it had handled 9,400–9,600 of them when the test saw the rebalance complete, so 500 more were
    /// often not there to handle: 4 failures in 39 runs on 2.16, each with a's partition committed at its end
    /// (10,000) — done, not stalled. Hence 20,000 per partition, and "goes on" also holds once every record of the
    /// kept partition is handled (a stall cannot pass that).
    @Test("a revoke while intake waits for room: the first worker keeps consuming what it keeps")
    func revokeWhileFull() async throws {
        let perPartition = 20_000
        let topic = try KafkaTesting.topic("stall-revoke", partitions: 2)
        try await produce((0..<2 * perPartition).map {
            itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 2))
        })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.maxBufferedRecords = 4_000
        configuration.maxBufferedRecordsPerPartition = 4_000
        configuration.maxConcurrency = 2
        let ledger = Ledger()
        let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
            try await Task.sleep(for: .milliseconds(1))
            ledger.note(record.value.id)
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a is full", within: .seconds(30)) { a.worker.statistics.processed > 200 }
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        // Eager: a gives up both partitions and gets one back. Cooperative: a gives up one and keeps the other
        // (its next assign is empty). Either way a ends with one partition and b with the other.
        try await waitUntil("the group rebalanced", within: .seconds(40)) {
            !a.events(.revoked).isEmpty && a.assignment.count == 1 && b.assignment.count == 1
        }
        let kept = try #require(a.assignment.first, "a kept a partition")
        #expect(b.assignment.isDisjoint(with: [kept]))
        let before = a.worker.statistics.processed
        // Records of the kept partition: after the rebalance only a owns it.
        let keptIDs = Set(stride(from: Int(kept.partition), to: 2 * perPartition, by: 2).map { "i\($0)" })
        @Sendable func keptHandled() -> Int { Set(ledger.order).intersection(keptIDs).count }
        do {
            try await waitUntil("a goes on with \(kept) after the rebalance", within: .seconds(20)) {
                a.worker.statistics.processed >= before + 500 || keptHandled() == perPartition
            }
        } catch {
            let since = a.worker.statistics.processed - before
            Issue.record("a handled \(since) records after the rebalance (\(before) before); of \(kept): \(keptHandled())")
            throw error
        }
        try await waitUntil("every record handled", within: .seconds(90)) {
            Set(ledger.order).count == 2 * perPartition
        }
        try await a.stop()
        try await b.stop()
    }
}
