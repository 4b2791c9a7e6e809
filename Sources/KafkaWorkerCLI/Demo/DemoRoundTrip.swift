import KafkaClient
import Logging

/// Consumes the demo topic until every record arrived, storing offsets as batches finish, then commits
/// and compares the group's committed offsets with the partitions' high watermarks.
struct DemoRoundTrip {
    let bootstrapServers: [String]
    let topic: String
    let partitions: Int
    let expected: Int
    let logger: Logger

    struct Result {
        var consumed = 0
        var outOfOrder = 0
        var duplicates = 0
        var lag: Int64 = 0
        var seconds = 0.0
        var isComplete: Bool { consumed > 0 && outOfOrder == 0 && duplicates == 0 && lag == 0 }

        var summary: String {
            let rate = seconds > 0 ? Int(Double(consumed) / seconds) : 0
            return """
                consumed \(consumed) records in \((seconds * 100).rounded() / 100) s (\(rate) records/s)
                out of order: \(outOfOrder), duplicates: \(duplicates), lag after commit: \(lag)
                result: \(isComplete ? "OK" : "FAILED")
                """
        }
    }

    func run() async throws -> Result {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrapServers, groupID: "demo-orders")
        configuration.session.timeout = .seconds(6)
        configuration.session.heartbeatInterval = .seconds(1)
        configuration.commit.interval = .seconds(1)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: [topic])

        var result = Result()
        var next: [KafkaTopicPartition: Int64] = [:]
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant?
        var lastReport = clock.now
        for try await batch in consumer.batches {
            if start == nil { start = clock.now }
            for record in batch {
                let expectedOffset = next[record.topicPartition] ?? 0
                if record.offset < expectedOffset { result.duplicates += 1 }
                if record.offset > expectedOffset { result.outOfOrder += 1 }
                next[record.topicPartition] = record.offset + 1
            }
            result.consumed += batch.count
            consumer.storeOffsets(batch.nextOffsets)
            if clock.now - lastReport > .seconds(1) {
                lastReport = clock.now
                printLine("progress: \(result.consumed)/\(expected) consumed")
            }
            if result.consumed >= expected { break }
        }
        result.seconds = start.map { Self.seconds(clock.now - $0) } ?? 0
        try await consumer.commit()
        let all = (0..<Int32(partitions)).map { KafkaTopicPartition(topic: topic, partition: $0) }
        let committed = try await consumer.committedOffsets(for: all)
        for entry in committed {
            let high = try await consumer.queryWatermarks(for: entry.topicPartition).high
            result.lag += high - max(entry.offset, 0)
        }
        await consumer.close()
        return result
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
