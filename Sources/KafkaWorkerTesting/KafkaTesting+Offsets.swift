public import KafkaClient

extension KafkaTesting {
    /// The group's committed offset of one partition (`KafkaOffset.invalid` if none).
    public static func committed(_ group: String, _ topic: String, partition: Int32 = 0,
                                 cluster: EmbeddedKafkaCluster = shared) async throws -> Int64 {
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        return try await admin.committedOffsets(group: group, partitions: [.init(topic: topic, partition: partition)])[0].offset
    }

    /// Sends the records and waits for every delivery report.
    public static func send(_ records: [KafkaProducerRecord], cluster: EmbeddedKafkaCluster = shared) async throws {
        let producer = try producer(cluster)
        for result in await producer.sendAll(records) { _ = try result.get() }
        await producer.close()
    }
}
