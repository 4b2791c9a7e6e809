import Foundation
import KafkaClient
import Logging
import Synchronization

/// The harness's own Kafka traffic: producing the plan, watching the group's commits, and reading topics back.
struct ChaosTopics: Sendable {
    let bootstrapServers: [String]
    let topic: String
    let deadLetterTopic: String
    let partitions: Int
    let logger: Logger

    /// Produces `records` evenly over `window`; a record whose delivery failed is sent again (same id) up to 5 times.
    /// Returns the ids that were acknowledged.
    func produce(_ records: [KafkaProducerRecord], over window: Duration) async throws -> Set<String> {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrapServers)
        configuration.deliveryTimeout = .seconds(30)
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let tick = Duration.milliseconds(100)
        let ticks = max(1, Int(window.milliseconds / tick.milliseconds))
        let chunk = max(1, (records.count + ticks - 1) / ticks)
        var acked = Set<String>()
        let start = ContinuousClock.now
        for (index, first) in stride(from: 0, to: records.count, by: chunk).enumerated() {
            try await Task.sleep(until: start + tick * index, clock: .continuous)
            var pending = Array(records[first..<min(first + chunk, records.count)])
            for attempt in 1...5 where !pending.isEmpty {
                let results = await producer.sendAll(pending)
                var failed: [KafkaProducerRecord] = []
                for (record, result) in zip(pending, results) {
                    switch result {
                    case .success: acked.insert(Self.id(of: record.headers) ?? "")
                    case .failure(let error):
                        if attempt == 5 { logger.error("record not produced", metadata: ["error": "\(error)"]) }
                        failed.append(record)
                    }
                }
                pending = failed
            }
        }
        await producer.close()
        return acked
    }

    /// Committed offset and end offset of every partition of the topic.
    func progress(group: String) async throws -> [(partition: Int32, committed: Int64, end: Int64, low: Int64)] {
        let admin = try KafkaAdmin(connection: KafkaConnectionConfiguration(bootstrapServers: bootstrapServers), logger: logger)
        let partitionList = (0..<Int32(partitions)).map { KafkaTopicPartition(topic: topic, partition: $0) }
        let committed = try await admin.committedOffsets(group: group, partitions: partitionList, timeout: .seconds(5))
        var out: [(Int32, Int64, Int64, Int64)] = []
        for partition in partitionList {
            let marks = try await admin.watermarks(for: partition, timeout: .seconds(5))
            let offset = committed.first { $0.topicPartition == partition }?.offset ?? KafkaOffset.invalid
            out.append((partition.partition, offset, marks.high, marks.low))
        }
        return out
    }

    /// Waits until the group has committed every partition to its end, checking every second, at most `limit`.
    func waitForDrain(group: String, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let progress = try? await progress(group: group), progress.allSatisfy({ $0.committed == $0.end }) { return true }
            try? await Task.sleep(for: .seconds(1))
        }
        return false
    }

    /// Every record of `topic` from offset 0 to its end: the chaos id of each and its partition.
    func readAll(_ topic: String, partitions: Int, within limit: Duration = .seconds(120)) async throws -> [(id: String?, partition: Int32)] {
        let admin = try KafkaAdmin(connection: KafkaConnectionConfiguration(bootstrapServers: bootstrapServers), logger: logger)
        var ends: [Int32: Int64] = [:]
        for partition in 0..<Int32(partitions) {
            let marks = try await admin.watermarks(for: KafkaTopicPartition(topic: topic, partition: partition), timeout: .seconds(10))
            if marks.high > 0 { ends[partition] = marks.high }
        }
        guard !ends.isEmpty else { return [] }
        var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrapServers,
                                                       groupID: "chaos-reader-\(UUID().uuidString.prefix(8))")
        configuration.commit.autoCommit = false
        configuration.session.timeout = .seconds(6)
        configuration.session.heartbeatInterval = .seconds(1)
        configuration.fetch.maxWait = .milliseconds(100)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try await consumer.subscribe(topics: [topic])
        let collected = Mutex<[(id: String?, partition: Int32)]>([])
        let reader = Task {
            var remaining = ends
            for try await batch in consumer.batches {
                collected.withLock { list in
                    for record in batch { list.append((Self.id(of: record.headers), record.partition)) }
                }
                for record in batch where remaining[record.partition].map({ record.offset + 1 >= $0 }) == true {
                    remaining[record.partition] = nil
                }
                if remaining.isEmpty { return true }
            }
            return false
        }
        let complete = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await reader.value) ?? false }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            defer { group.cancelAll() }
            return await group.next()!
        }
        reader.cancel()
        await consumer.close()
        guard complete else { throw ChaosFailure("could not read \(topic) to its end within \(limit)") }
        return collected.withLock { $0 }
    }

    static func id(of headers: [KafkaHeader]) -> String? {
        headers.first { $0.name == ChaosPlan.idHeader }?.stringValue
    }
}
