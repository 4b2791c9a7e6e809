import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Offsets: store, commit, resume, seek", .timeLimit(.minutes(2)))
struct OffsetTests {
    @Test("after a commit, a new consumer of the group resumes exactly after the committed offset")
    func resumeAfterCommit() async throws {
        let topic = try KafkaTesting.topic("resume")
        try await KafkaTesting.produce(300, to: topic)
        let group = KafkaTesting.unique("g")

        let first = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        let seen = try await KafkaTesting.collect(100, from: first, storeOffsets: false)
        let hundredth = try #require(seen.first { $0.offset == 99 })
        #expect(first.storeOffsets([hundredth.nextOffset]).isEmpty)
        try await first.commit()
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        #expect(try await first.committedOffsets(for: [partition]) == [KafkaTopicPartitionOffset(partition, offset: 100)])
        await first.close()

        let second = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        let rest = try await KafkaTesting.collect(200, from: second)
        await second.close()
        #expect(rest.map(\.offset) == Array(100..<300))
    }

    @Test("close commits what was stored")
    func closeCommitsStoredOffsets() async throws {
        let topic = try KafkaTesting.topic("closecommit", partitions: 2)
        try await KafkaTesting.produce(40, to: topic, partitions: 2)
        let group = KafkaTesting.unique("g")
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, group: group) {
            $0.commit.interval = .seconds(3600)  // only close() can have committed
        }
        _ = try await KafkaTesting.collect(40, from: consumer)
        await consumer.close()
        await consumer.close()  // idempotent

        let admin = try KafkaAdmin(connection: .init(bootstrapServers: KafkaTesting.shared.bootstrapServers), logger: KafkaTesting.logger)
        let committed = try await admin.committedOffsets(
            group: group, partitions: [.init(topic: topic, partition: 0), .init(topic: topic, partition: 1)])
        #expect(committed.map(\.offset) == [20, 20])
    }

    @Test("storing an offset for a partition that is not assigned is rejected cleanly, without a crash")
    func storeForUnassignedPartition() async throws {
        let topic = try KafkaTesting.topic("unassigned")
        let other = try KafkaTesting.topic("other")
        try await KafkaTesting.produce(5, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let records = try await KafkaTesting.collect(5, from: consumer, storeOffsets: false)
        let rejected = consumer.storeOffsets([
            KafkaTopicPartitionOffset(topic: other, partition: 0, offset: 3),
            records[4].nextOffset,
        ])
        #expect(rejected.count == 1)
        #expect(rejected.first?.offset.topic == other)
        // Never assigned to this handle: librdkafka does not know the partition.
        #expect([.state, .unknownPartition].contains(rejected.first?.error.code))
        await consumer.close()
        // After close nothing is assigned: every store is refused the same way.
        #expect(consumer.storeOffsets([records[0].nextOffset]).first?.error.code == .state)
    }

    @Test("seek moves delivery back to an earlier offset")
    func seekBack() async throws {
        let topic = try KafkaTesting.topic("seek")
        try await KafkaTesting.produce(30, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        _ = try await KafkaTesting.collect(30, from: consumer)
        try await consumer.seek([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: 10)])
        let again = try await KafkaTesting.collect(20, from: consumer)
        await consumer.close()
        #expect(again.map(\.offset) == Array(10..<30))
    }

    @Test("positions follow delivery; commitAsync reports its result as a committed event")
    func positionsAndAsyncCommit() async throws {
        let topic = try KafkaTesting.topic("async")
        try await KafkaTesting.produce(12, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic) { $0.commit.autoCommit = false }
        let events = Task { () -> KafkaConsumerEvent? in
            for await event in consumer.events where event.kind == .committed { return event }
            return nil
        }
        _ = try await KafkaTesting.collect(12, from: consumer)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        #expect(try consumer.positions(for: [partition]) == [KafkaTopicPartitionOffset(partition, offset: 12)])
        try consumer.commitAsync()
        let committed = try await withDeadline(.seconds(10), "committed event") { await events.value }
        #expect(committed?.error == nil)
        #expect(committed?.offsets.contains(KafkaTopicPartitionOffset(partition, offset: 12)) == true)
        await consumer.close()
    }
}
