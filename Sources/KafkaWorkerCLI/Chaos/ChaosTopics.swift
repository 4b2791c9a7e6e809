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

    /// What the producer got acknowledged: the order ids, and per partition the end (highest acknowledged offset + 1).
    struct Produced: Sendable {
        var ids = Set<String>()
        var ends: [Int32: Int64] = [:]
    }

    /// Produces `records` evenly over `window`; a record whose delivery failed is sent again (same id) up to 5 times.
    func produce(_ records: [KafkaProducerRecord], over window: Duration) async throws -> Produced {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrapServers)
        configuration.deliveryTimeout = .seconds(30)
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let tick = Duration.milliseconds(100)
        let ticks = max(1, Int(window.milliseconds / tick.milliseconds))
        let chunk = max(1, (records.count + ticks - 1) / ticks)
        var produced = Produced()
        let start = ContinuousClock.now
        for (index, first) in stride(from: 0, to: records.count, by: chunk).enumerated() {
            try await Task.sleep(until: start + tick * index, clock: .continuous)
            var pending = Array(records[first..<min(first + chunk, records.count)])
            for attempt in 1...5 where !pending.isEmpty {
                let results = await producer.sendAll(pending)
                var failed: [KafkaProducerRecord] = []
                for (record, result) in zip(pending, results) {
                    switch result {
                    case .success(let report):
                        produced.ids.insert(Self.id(of: record.headers) ?? "")
                        produced.ends[report.partition] = max(produced.ends[report.partition] ?? 0, report.offset + 1)
                    case .failure(let error):
                        if attempt == 5 { logger.error("record not produced", metadata: ["error": "\(error)"]) }
                        failed.append(record)
                    }
                }
                pending = failed
            }
        }
        await producer.close()
        return produced
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

    /// Waits until the group has committed every partition at least to its high watermark and the commits have stopped
    /// moving (two samples a second apart agree: a broker whose high watermark lags still gets the last commits in),
    /// at most `limit`.
    /// A partition's end is the larger of its high watermark and the producer's highest acknowledged offset + 1.
    func waitForDrain(group: String, ackedEnds: [Int32: Int64], within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        var previous: [Int64]?
        while ContinuousClock.now < deadline {
            if let progress = try? await progress(group: group), progress.allSatisfy({ partition in
                let end = max(partition.end, ackedEnds[partition.partition] ?? 0)
                return end == 0 || partition.committed >= end
            }) {
                let committed = progress.map(\.committed)
                if committed == previous { return true }
                previous = committed
            } else {
                previous = nil
            }
            try? await Task.sleep(for: .seconds(1))
        }
        return false
    }

    /// Samples the group's committed offsets every `interval` as a non-member (the consumer never subscribes, so
    /// it never joins) until `stop` is set: the observer of the commit-safety check.
    func observeCommits(group: String, every interval: Duration, until stop: @escaping @Sendable () -> Bool)
        async throws -> [ChaosCommitSample]
    {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrapServers, groupID: group)
        configuration.commit.autoCommit = false
        let observer = try KafkaConsumer(configuration: configuration, logger: logger)
        let partitionList = (0..<Int32(partitions)).map { KafkaTopicPartition(topic: topic, partition: $0) }
        var samples: [ChaosCommitSample] = []
        while !stop() {
            if let offsets = try? await observer.committedOffsets(for: partitionList, timeout: .seconds(5)) {
                let at = Int64(Date().timeIntervalSince1970 * 1000)
                samples.append(ChaosCommitSample(at: at, offsets: Dictionary(
                    offsets.filter { $0.offset >= 0 }.map { ($0.topicPartition.partition, $0.offset) }) { $1 }))
            }
            try? await Task.sleep(for: interval)
        }
        await observer.close()
        return samples
    }

    /// A record read back: its chaos id and position.
    struct Position: Sendable {
        var id: String?
        var partition: Int32
        var offset: Int64
        /// For a dead letter: the partition and offset of the record it stands for (its `dlq.original.*` headers).
        var origin: String? = nil
    }

    /// Every record of `topic` from offset 0: read until each partition reached its high watermark and then nothing
    /// more came for `quiet` (a broker that reports its high watermark short still gives up its last records).
    func readAll(_ topic: String, partitions: Int, quiet: Duration = .seconds(2),
                 within limit: Duration = .seconds(120)) async throws -> [Position] {
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
        // What was read, whether every partition reached its end, and when the last record came.
        let state = Mutex<(records: [Position], seen: Set<KafkaTopicPartitionOffset>, remaining: [Int32: Int64],
                           last: ContinuousClock.Instant)>(([], [], ends, .now))
        let reader = Task {
            for try await batch in consumer.batches {
                state.withLock { state in
                    for record in batch {
                        // A rebalance in the reader's group may read a range twice: keep each position once.
                        guard state.seen.insert(KafkaTopicPartitionOffset(topic: topic, partition: record.partition,
                                                                          offset: record.offset)).inserted else { continue }
                        let headers = record.headers
                        let origin = headers.first { $0.name == "dlq.original.partition" }?.stringValue.flatMap { partition in
                            headers.first { $0.name == "dlq.original.offset" }?.stringValue.map { "\(partition)/\($0)" }
                        }
                        state.records.append(Position(id: Self.id(of: headers), partition: record.partition,
                                                      offset: record.offset, origin: origin))
                        if let end = state.remaining[record.partition], record.offset + 1 >= end {
                            state.remaining[record.partition] = nil
                        }
                    }
                    state.last = .now
                }
            }
        }
        defer { reader.cancel() }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let done = state.withLock { $0.remaining.isEmpty && ContinuousClock.now - $0.last >= quiet }
            if done { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        await consumer.close()
        return try state.withLock { state in
            guard state.remaining.isEmpty else {
                throw ChaosFailure("could not read \(topic) to its end within \(limit) (partitions \(state.remaining.keys.sorted()) short)")
            }
            return state.records
        }
    }

    static func id(of headers: [KafkaHeader]) -> String? {
        headers.first { $0.name == ChaosPlan.idHeader }?.stringValue
    }
}
