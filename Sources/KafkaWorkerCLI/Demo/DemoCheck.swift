import KafkaClient

/// After the worker stopped: the group's lag on `orders`, and how many records `orders.dlq` holds.
struct DemoCheck {
    var lag: Int64 = 0
    var deadLetters = 0

    static func run(cluster: EmbeddedKafkaCluster, partitions: Int, group: String) async throws -> DemoCheck {
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: cluster.bootstrapServers))
        let all = (0..<Int32(partitions)).map { KafkaTopicPartition(topic: "orders", partition: $0) }
        var check = DemoCheck()
        for committed in try await admin.committedOffsets(group: group, partitions: all) {
            let watermarks = try await admin.watermarks(for: committed.topicPartition)
            check.lag += watermarks.high - max(committed.offset, 0)
        }
        let dlq = try await admin.watermarks(for: KafkaTopicPartition(topic: "orders.dlq", partition: 0))
        check.deadLetters = Int(dlq.high - dlq.low)
        return check
    }
}
