import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

@Suite("Rebalances and shutdown", .timeLimit(.minutes(3)))
struct RebalanceAndShutdownTests {
    @Test("a revoke waits for the record in flight, stores and commits it; the new owner does not see it again")
    func revokeDrainsAndCommits() async throws {
        let topic = try KafkaTesting.topic("revoke", partitions: 2)
        try await produce((0..<40).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 2)) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        // Cooperative: only the moving partition is revoked, while the group is up (the embedded coordinator
        // refuses commits while a group is joining, which eager revokes always meet).
        configuration.consumer.assignmentStrategy = .cooperativeSticky
        configuration.consumer.commit.autoCommit = false  // only revokes and shutdowns commit
        let seen = Ledger()
        let slowStarted = Mutex<Date?>(nil)
        let slowFinished = Mutex<Date?>(nil)
        let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
            if record.value.id == "i21" {  // partition 1, offset 10
                slowStarted.withLock { $0 = Date() }
                try await Task.sleep(for: .seconds(4))
                slowFinished.withLock { $0 = Date() }
            }
            seen.note(record.value.id)
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a is inside the slow record") { slowStarted.withLock { $0 } != nil }
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a gives a partition to b", within: .seconds(40)) {
            !b.events(.assigned).flatMap(\.partitions).isEmpty && a.events(.revoked).count >= 1
        }
        try await waitUntil("all 40 handled", within: .seconds(40)) { Set(seen.order).count == 40 }
        let revoked = try #require(a.events(.revoked).first)
        let moved = try #require(revoked.partitions.first)
        // The revoke completed only after the slow record: the slow record finished first, and a committed.
        let commit = a.events(.committed).first { $0.offsets.contains { $0.topicPartition == moved } && $0.error == nil }
        #expect(commit != nil, "\(a.events(.committed))")
        if moved.partition == 1 {
            #expect(slowFinished.withLock { $0 } != nil)
            #expect(commit?.offsets.first { $0.topicPartition == moved }?.offset ?? 0 >= 11, "the slow record was committed")
        }
        try await a.stop()
        try await b.stop()
        #expect(seen.attempts.values.allSatisfy { $0 == 1 }, "no record handled twice: \(seen.attempts.filter { $0.value > 1 })")
    }

    @Test("a graceful stop lets the record in flight finish, commits it, and a restarted worker sees no redelivery")
    func shutdownDrainsAndCommits() async throws {
        let topic = try KafkaTesting.topic("shutdown")
        try await produce((0..<300).map { itemRecord(topic: topic, id: "i\($0)") })
        let configuration = KafkaTesting.workerConfiguration(topics: [topic])
        let first = Ledger()
        let inSlow = Mutex(false)
        let firstWorker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                                    logger: KafkaTesting.logger) { record in
            if record.value.id == "i150" {
                inSlow.withLock { $0 = true }
                try await Task.sleep(for: .milliseconds(800))
            }
            first.note(record.value.id)
        })
        try await waitUntil("inside record 150") { inSlow.withLock { $0 } }
        try await firstWorker.stop()
        #expect(first.order == (0...150).map { "i\($0)" }, "the in-flight record finished; nothing after it started")
        #expect(try await committed(configuration.groupID, topic) == 151)
        #expect(firstWorker.events(.shutdown).count == 2)

        let second = Ledger()
        let secondWorker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                                     logger: KafkaTesting.logger) { record in second.note(record.value.id) })
        try await waitUntil("the rest handled") { second.total == 149 }
        try await secondWorker.stop()
        #expect(second.order == (151..<300).map { "i\($0)" }, "no redelivery, no gap")
    }

    @Test("a forced stop abandons the record in flight: it is not committed and comes back")
    func forcedStopAbandons() async throws {
        let topic = try KafkaTesting.topic("forced")
        try await produce((0..<10).map { itemRecord(topic: topic, id: "i\($0)") })
        let configuration = KafkaTesting.workerConfiguration(topics: [topic])
        let inSlow = Mutex(false)
        let first = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                              logger: KafkaTesting.logger) { record in
            if record.value.id == "i4" {
                inSlow.withLock { $0 = true }
                try await Task.sleep(for: .seconds(3600))
            }
        })
        try await waitUntil("inside record 4") { inSlow.withLock { $0 } }
        try await first.stop(force: true)
        #expect(try await committed(configuration.groupID, topic) == 4)

        let again = Ledger()
        let second = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in again.note(record.value.id) })
        try await waitUntil("rest handled") { again.total == 6 }
        try await second.stop()
        #expect(again.order.first == "i4")
    }

    @Test("an unreachable cluster ends run() with a clear error in bounded time")
    func unreachableCluster() async throws {
        var configuration = WorkerConfiguration(bootstrapServers: ["127.0.0.1:1"], groupID: "nobody", topics: ["t"])
        configuration.consumer.connection.connectTimeout = .seconds(2)
        configuration.deadLetter.createTopics = false
        let worker = KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), logger: KafkaTesting.logger,
                                 handler: { _ in })
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: KafkaError.self) { try await worker.run() }
        #expect(clock.now - start < .seconds(15))
        #expect(String(describing: error).contains("127.0.0.1:1"))
        #expect(worker.isStopped)
    }
}
