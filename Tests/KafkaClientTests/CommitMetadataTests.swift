import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Commit metadata", .timeLimit(.minutes(1)))
struct CommitMetadataTests {
    @Test("an explicit commit's metadata is kept by the broker and read back with the committed offset")
    func metadataRoundTrips() async throws {
        let topic = try KafkaTesting.topic("commit-meta")
        try await KafkaTesting.produce(5, to: topic)
        let group = KafkaTesting.unique("g")
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        _ = try await KafkaTesting.collect(5, from: consumer, storeOffsets: false)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        try await consumer.commit([KafkaTopicPartitionOffset(partition, offset: 2, metadata: "kw1:1+1")])
        let read = try await consumer.committedOffsets(for: [partition])
        #expect(read == [KafkaTopicPartitionOffset(partition, offset: 2, metadata: "kw1:1+1")])
        await consumer.close()
    }
}
