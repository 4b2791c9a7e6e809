import KafkaClient
import KafkaWorkerTesting
import Synchronization
import Testing

/// `seek` while the poll thread keeps fetching: whatever was polled before the seek must not be delivered after it,
/// and nothing fetched at the new position may be dropped.
@Suite("seek while fetching", .timeLimit(.minutes(2)))
struct SeekTests {
    @Test("200 seeks to random offsets while fetching: the first record after each is the seek offset, then no gap")
    func seeksWhileFetching() async throws {
        let topic = try KafkaTesting.topic("seek-race")
        let count = 20_000
        try await KafkaTesting.produce(count, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic) { $0.handoff.maxBatchSize = 64 }
        var batches = consumer.batches.makeAsyncIterator()
        var generator = SystemRandomNumberGenerator()
        var wrong: [String] = []
        // Once seen on librdkafka 2.16 under load (1 run in ~10): the suite's time limit, with no sign of where it
        // stood. A step that makes no progress for 20 s is reported with what it waited for.
        let step = Mutex((count: 0, what: "starting"))
        let watchdog = Task {
            var last = -1
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(20))
                let now = step.withLock { $0 }
                if now.count == last && !Task.isCancelled {
                    Issue.record("no progress for 20 s: \(now.what); assignment \(consumer.assignment)")
                    return
                }
                last = now.count
            }
        }
        defer { watchdog.cancel() }
        for round in 0..<200 {
            // Keep the poll thread busy: read a few batches first, so a fetch is under way when the seek comes.
            step.withLock { $0 = ($0.count + 1, "round \(round): reading before the seek") }
            for _ in 0..<Int.random(in: 1...4, using: &generator) { _ = try await batches.next() }
            let target = Int64.random(in: 0..<Int64(count - 500), using: &generator)
            step.withLock { $0 = ($0.count + 1, "round \(round): seeking to \(target)") }
            try await consumer.seek([KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: target)])
            step.withLock { $0 = ($0.count + 1, "round \(round): reading from \(target)") }
            var expected = target
            // The next 300 records: exactly target, target + 1, ... (nothing from before the seek, nothing skipped).
            while expected < target + 300 {
                guard let batch = try await batches.next() else { break }
                for record in batch where expected < target + 300 {
                    if record.offset != expected {
                        wrong.append("round \(round): seek to \(target), expected \(expected), got \(record.offset)")
                        expected = target + 300
                        break
                    }
                    expected += 1
                }
            }
        }
        await consumer.close()
        #expect(wrong.count == 0, "\(wrong.count) of 200 seeks delivered a wrong record first: \(wrong.prefix(5))")
    }

    @Test("a seek before subscribe or after close fails with .state at once")
    func seekWhenNotPolling() async throws {
        let topic = try KafkaTesting.topic("seek-idle")
        let consumer = try KafkaConsumer(configuration: KafkaTesting.consumerConfiguration(group: KafkaTesting.unique("g")),
                                         logger: KafkaTesting.logger)
        let offset = KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: 0)
        await #expect(throws: KafkaError.self) { try await consumer.seek([offset]) }
        try await consumer.subscribe(topics: [topic])
        await consumer.close()
        let error = await #expect(throws: KafkaError.self) { try await consumer.seek([offset]) }
        #expect(error?.code == .state)
    }
}
