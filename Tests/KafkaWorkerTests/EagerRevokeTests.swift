import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

@Suite("Eager revoke with slow handlers", .timeLimit(.minutes(3)))
struct EagerRevokeTests {
    @Test("an eager revoke drains slow handlers and commits; the next owner starts exactly at the commit (refused or not)")
    func nextOwnerSeesExactlyTheUncommitted() async throws {
        let topic = try KafkaTesting.topic("eager-slow", partitions: 2)
        try await produce((0..<120).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 2)) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.consumer.assignmentStrategy = .eager
        configuration.consumer.commit.autoCommit = false  // only revokes and shutdowns commit
        configuration.maxConcurrency = 2
        let firstSeen = Mutex<[String: [Int32: Int64]]>([:])  // worker → partition → first offset it handled
        let seen = Ledger()
        func handler(_ name: String) -> @Sendable (WorkerRecord<Item>) async throws -> Void {
            { record in
                firstSeen.withLock { seen in
                    if seen[name]?[record.partition] == nil { seen[name, default: [:]][record.partition] = record.offset }
                }
                try await Task.sleep(for: .milliseconds(30))
                seen.note(record.value.id)
            }
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler("a")))
        try await waitUntil("a is busy on both partitions", within: .seconds(30)) { a.worker.statistics.processed >= 10 }
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler("b")))
        try await waitUntil("b handles a partition", within: .seconds(40)) { firstSeen.withLock { $0["b"] } != nil }
        let (bPartition, bFirst) = try #require(firstSeen.withLock { $0["b"] }?.first)
        // Nothing commits while both run (no auto-commit): what is committed now is what a's revoke committed.
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: KafkaTesting.shared.bootstrapServers), logger: KafkaTesting.logger)
        let moved = KafkaTopicPartition(topic: topic, partition: bPartition)
        let committed = try #require(try await admin.committedOffsets(group: configuration.groupID, partitions: [moved]).first)
        #expect(bFirst == max(committed.offset, 0), "b starts exactly at the group's commit (\(committed.offset)), not past it")
        // a's revoke tried to commit the drained records of the moved partition; the embedded coordinator may refuse
        // it during the join (a real broker accepts it), and then b reads them again — but never skips any.
        let attempts = a.events(.committed).filter { $0.offsets.contains { $0.topicPartition == moved } }
        #expect(!attempts.isEmpty, "a's revoke committed (or tried to) before giving \(moved) up")
        for attempt in attempts where attempt.error != nil {
            #expect(attempt.error?.contains("REBALANCE_IN_PROGRESS") == true, "\(attempt)")
        }
        if attempts.contains(where: { $0.error == nil }) {
            #expect(committed.offset > 0, "a successful revoke commit moved the group's offset")
        }
        try await waitUntil("every record handled", within: .seconds(60)) { Set(seen.order).count == 120 }
        try await a.stop()
        try await b.stop()
    }
}
