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

    @Test("partitions paused when they are revoked come back unpaused when assigned again")
    func pauseDoesNotOutliveTheAssignment() async throws {
        let topic = try KafkaTesting.topic("pause-revoke", partitions: 2)
        try await KafkaTesting.produce(20, to: topic, partitions: 2)
        let group = KafkaTesting.unique("g")
        let a = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        _ = try await KafkaTesting.collect(20, from: a)
        a.pause(a.assignment)
        let seen = Mutex<[KafkaRecord]>([])
        let reader = Task {
            for try await batch in a.batches { seen.withLock { $0 += batch } }
        }
        // A second member joins: a's partitions are revoked (eager: all of them) and one comes back.
        let b = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        let bReader = Task { for try await _ in b.batches {} }
        try await waitUntil("the two share the partitions", within: .seconds(40)) {
            a.assignment.count == 1 && b.assignment.count == 1
        }
        let kept = try #require(a.assignment.first)
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 20)
        try await waitUntil("a reads the new records of \(kept)", within: .seconds(15)) {
            seen.withLock { $0 }.contains { $0.topicPartition == kept && $0.offset >= 10 }
        }
        reader.cancel()
        bReader.cancel()
        await a.close()
        await b.close()
    }
}
