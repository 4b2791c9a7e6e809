import Foundation
import KafkaClient
import KafkaWorkerTesting
import Synchronization
import Testing

/// Rebalance state changes happen on the poll thread in the order of the rebalance: an assignment is known
/// before any of its records is handed over, and a pause never outlives its assignment.
@Suite("Rebalance ordering and pause flags", .timeLimit(.minutes(3)))
struct RebalanceOrderTests {
    @Test("no record is handed over before the assign hook returned, however long it takes")
    func assignHookRunsBeforeRecords() async throws {
        let topic = try KafkaTesting.topic("assign-first")
        try await KafkaTesting.produce(10, to: topic)
        var configuration = KafkaTesting.consumerConfiguration(group: KafkaTesting.unique("g"))
        configuration.rebalanceHookTimeout = .seconds(1)
        let hookReturned = Mutex<Date?>(nil)
        // A slow (synchronous) assign hook, longer than the hook timeout.
        let hooks = KafkaRebalanceHooks(onAssign: { _ in
            usleep(2_000_000)  // blocking on purpose: the hook is synchronous
            hookReturned.withLock { $0 = Date() }
        })
        let consumer = try KafkaConsumer(configuration: configuration, rebalanceHooks: hooks, logger: KafkaTesting.logger)
        try await consumer.subscribe(topics: [topic])
        let records = try await KafkaTesting.collect(10, from: consumer)
        let firstSeen = Date()
        await consumer.close()
        #expect(records.map(\.offset) == Array(0..<10))
        let returned = try #require(hookReturned.withLock { $0 }, "the first record arrived before the assign hook returned")
        #expect(returned <= firstSeen)
    }

    /// A pause lasts for an assignment. Eager: b joining revokes both of a's partitions and one comes back;
    /// b leaving revokes it again and both come back — unpaused each time. Cooperative: a keeps one partition
    /// (its assignment goes on, so it stays paused) and gives up the other, which comes back unpaused when b leaves.
    @Test("a partition revoked while paused comes back unpaused; one kept through the rebalance stays paused",
          arguments: [KafkaConsumerConfiguration.AssignmentStrategy.eager, .cooperativeSticky])
    func pauseDoesNotOutliveTheAssignment(strategy: KafkaConsumerConfiguration.AssignmentStrategy) async throws {
        let topic = try KafkaTesting.topic("pause-revoke", partitions: 2)
        try await KafkaTesting.produce(20, to: topic, partitions: 2)
        let group = KafkaTesting.unique("g")
        let a = try await KafkaTesting.consumer(subscribedTo: topic, group: group) { $0.assignmentStrategy = strategy }
        let revokedFromA = Mutex<Set<KafkaTopicPartition>>([])
        let history = Mutex<[String]>([])  // a's rebalances, for the failure message
        let clock = ContinuousClock(), start = clock.now
        let aEvents = Task {
            for await event in a.events where event.kind != .committed {
                history.withLock { $0.append("\(clock.now - start) \(event.kind) \(event.partitions.map(\.partition))") }
                if event.kind == .revoked || event.kind == .lost { revokedFromA.withLock { $0.formUnion(event.partitions) } }
            }
        }
        _ = try await KafkaTesting.collect(20, from: a)
        let paused = Set(a.assignment)
        #expect(paused.count == 2)
        a.pause(Array(paused))
        let seen = Mutex<[KafkaRecord]>([])
        let reader = Task {
            for try await batch in a.batches {
                seen.withLock { $0 += batch }
                a.storeOffsets(batch.nextOffsets)
            }
        }
        let b = try await KafkaTesting.consumer(subscribedTo: topic, group: group) { $0.assignmentStrategy = strategy }
        let bReader = Task {
            for try await batch in b.batches { b.storeOffsets(batch.nextOffsets) }
        }
        try await waitUntil("the two share the partitions", within: .seconds(40)) {
            a.assignment.count == 1 && b.assignment.count == 1
        }
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 20)
        bReader.cancel()
        await b.close()
        try await waitUntil("a owns both partitions again", within: .seconds(40)) { a.assignment.count == 2 }
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 40)
        let revoked = revokedFromA.withLock { $0 }
        #expect(!revoked.isEmpty, "b's joining revoked nothing of a's")
        do {
            try await waitUntil("a reads the newest records of every partition revoked since the pause: \(revoked)",
                                within: .seconds(15)) {
                let records = seen.withLock { $0 }
                return revoked.allSatisfy { partition in
                    records.contains { $0.topicPartition == partition && $0.offset >= 20 }
                }
            }
        } catch {
            var highest: [Int32: Int64] = [:]
            for record in seen.withLock({ $0 }) { highest[record.partition] = max(highest[record.partition] ?? -1, record.offset) }
            let rebalances = history.withLock { $0 }
            Issue.record("at \(clock.now - start): a owns \(a.assignment.map(\.partition)), highest offsets read \(highest), a's rebalances: \(rebalances)")
            throw error
        }
        if strategy == .eager {
            #expect(revoked == paused, "eager revokes everything")
        }
        // Never revoked (cooperative): still paused, so nothing after the pause point was read from it.
        for partition in paused.subtracting(revoked) {
            #expect(!seen.withLock { $0 }.contains { $0.topicPartition == partition && $0.offset >= 10 },
                    "\(partition) was paused and never revoked")
        }
        reader.cancel()
        await a.close()
        aEvents.cancel()
    }
}
