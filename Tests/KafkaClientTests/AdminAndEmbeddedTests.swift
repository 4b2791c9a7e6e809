import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Admin client and embedded cluster faults", .timeLimit(.minutes(2)))
struct AdminAndEmbeddedTests {
    @Test("a cluster that answers slowly (400 ms round trips) is still reached: metadata and a consumer's start")
    func slowClusterIsReached() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        defer { cluster.stop() }
        try cluster.createTopic("slow", partitions: 3)
        try cluster.setBrokerRoundTripTime(1, .milliseconds(400))
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: cluster.bootstrapServers), logger: KafkaTesting.logger)
        #expect(try await admin.partitionCount(topic: "slow", timeout: .seconds(10)) == 3)
        let consumer = try KafkaConsumer(configuration: KafkaTesting.consumerConfiguration(cluster, group: KafkaTesting.unique("slow")),
                                         logger: KafkaTesting.logger)
        try await consumer.subscribe(topics: ["slow"])
        await consumer.close()
    }

    @Test("committed offsets of a group are read without joining it; missing ones are invalid")
    func committedOffsetsOfGroup() async throws {
        let topic = try KafkaTesting.topic("admin", partitions: 2)
        try await KafkaTesting.produce(10, to: topic, partitions: 2)
        let group = KafkaTesting.unique("g")
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        _ = try await KafkaTesting.collect(10, from: consumer, storeOffsets: false)
        try await consumer.commit([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: 3)])

        let admin = try KafkaAdmin(connection: .init(bootstrapServers: KafkaTesting.shared.bootstrapServers), logger: KafkaTesting.logger)
        let committed = try await admin.committedOffsets(
            group: group, partitions: [.init(topic: topic, partition: 0), .init(topic: topic, partition: 1)])
        #expect(committed.map(\.offset) == [3, KafkaOffset.invalid])
        #expect(try await admin.partitionCount(topic: topic) == 2)
        #expect(try await admin.watermarks(for: .init(topic: topic, partition: 1)) == KafkaWatermarks(low: 0, high: 5))
        await consumer.close()
    }

    @Test("CreateTopics on the embedded cluster fails with a clear error within the timeout, not a hang")
    func createTopicsUnsupported() async throws {
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: KafkaTesting.shared.bootstrapServers), logger: KafkaTesting.logger)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopic(KafkaTesting.unique("created"), partitions: 3, timeout: .seconds(3))
        }
        #expect(clock.now - start < .seconds(10))
        #expect(error?.operation == "create topic")
        #expect(String(describing: error).contains("CreateTopics"))
    }

    @Test("leader moves, coordinator moves and round-trip times keep the cluster usable")
    func leaderAndCoordinatorMoves() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("moves", partitions: 2, on: cluster)
        let group = KafkaTesting.unique("g")
        try cluster.setPartitionLeader(topic: topic, partition: 0, broker: 2)
        try cluster.setGroupCoordinator(group: group, broker: 3)
        try cluster.setBrokerRoundTripTime(2, .milliseconds(200))
        let clock = ContinuousClock()
        let start = clock.now
        try await KafkaTesting.produce(10, to: topic, partitions: 2, cluster: cluster)
        #expect(clock.now - start >= .milliseconds(200))

        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, group: group, cluster: cluster)
        _ = try await KafkaTesting.collect(10, from: consumer)
        try cluster.setPartitionLeader(topic: topic, partition: 0, broker: 1)
        try cluster.setGroupCoordinator(group: group, broker: 1)
        try await KafkaTesting.produce(10, to: topic, partitions: 2, from: 10, cluster: cluster)
        let more = try await KafkaTesting.collect(10, from: consumer)
        try await consumer.commit()
        await consumer.close()
        #expect(Set(more.map(\.offset)) == Set(5..<10))
    }

    @Test("injected OffsetCommit errors reach the committer; the next commit succeeds")
    func injectedCommitErrors() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("commiterr", on: cluster)
        try await KafkaTesting.produce(5, to: topic, cluster: cluster)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, cluster: cluster) { $0.commit.autoCommit = false }
        _ = try await KafkaTesting.collect(5, from: consumer)
        try cluster.injectRequestErrors([.groupAuthorizationFailed], for: .offsetCommit)
        let error = await #expect(throws: KafkaError.self) { try await consumer.commit() }
        #expect(error?.code == .groupAuthorizationFailed)
        try await consumer.commit()
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        #expect(try await consumer.committedOffsets(for: [partition]).first?.offset == 5)
        await consumer.close()
    }

    @Test("a stopped cluster refuses further calls with a clear error")
    func stoppedCluster() throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        #expect(cluster.bootstrapServers.count == 1)
        #expect(cluster.bootstrapServers[0].hasPrefix("127.0.0.1:"))
        cluster.stop()
        cluster.stop()
        let error = #expect(throws: KafkaError.self) { try cluster.createTopic("late", partitions: 1) }
        #expect(error?.code == .destroyed)
    }
}
