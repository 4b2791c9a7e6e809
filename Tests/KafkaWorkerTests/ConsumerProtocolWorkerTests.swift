import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// The worker under KIP-848's consumer protocol: the rebalance callback is always incremental there.
@Suite("Worker on the consumer group protocol (KIP-848)", .timeLimit(.minutes(3)),
       .enabled(if: KafkaLibrary.isAtLeast(2, 12),
                "group.protocol=consumer (KIP-848) needs librdkafka 2.12+, whose mock cluster serves ConsumerGroupHeartbeat; older ones refuse it at start-up"))
struct ConsumerProtocolWorkerTests {
    @Test("a second worker joins while the first is busy: partitions move one increment at a time, every record handled, all committed")
    func secondWorkerJoins() async throws {
        let topic = try KafkaTesting.topic("kip848-worker", partitions: 4)
        try await produce((0..<4_000).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 4)) })
        let configuration = KafkaTesting.workerConfiguration(topics: [topic], groupProtocol: .consumer)
        let ledger = Ledger()
        let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
            try await Task.sleep(for: .milliseconds(1))
            ledger.note(record.value.id)
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a is under way", within: .seconds(30)) { a.worker.statistics.processed > 200 }
        #expect(a.assignment.count == 4)
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("the two share the partitions", within: .seconds(40)) {
            a.assignment.count == 2 && b.assignment.count == 2
        }
        #expect(a.assignment.isDisjoint(with: b.assignment))
        // Incremental: a gave up what moved (two partitions), never its whole assignment.
        #expect(a.events(.revoked).allSatisfy { $0.partitions.count < 4 }, "\(a.events(.revoked))")
        #expect(a.events(.lost).isEmpty && b.events(.lost).isEmpty)
        try await waitUntil("every record handled", within: .seconds(90)) { Set(ledger.order).count == 4_000 }
        try await a.stop()
        try await b.stop()
        var total: Int64 = 0
        for partition in Int32(0)..<4 { total += try await committed(configuration.groupID, topic, partition: partition) }
        #expect(total == 4_000, "the group's commits cover every record")
    }
}
