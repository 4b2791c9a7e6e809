@testable import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Pause, resume and back-pressure", .timeLimit(.minutes(2)))
struct PauseAndBackpressureTests {
    @Test("pause stops delivery; resume restarts it without duplicates or gaps")
    func pauseAndResume() async throws {
        let topic = try KafkaTesting.topic("pause")
        try await KafkaTesting.produce(100, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let before = try await KafkaTesting.collect(100, from: consumer)
        #expect(before.map(\.offset) == Array(0..<100))

        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        consumer.pause([partition])
        try await KafkaTesting.produce(100, to: topic, from: 100)
        // Nothing may arrive while paused. Absence has no event to await, so watch for a while.
        let whilePaused = try await withDeadline(.seconds(10), "paused read") { () -> Int in
            let reader = Task { try await consumer.batches.first { _ in true }?.count ?? 0 }
            try await Task.sleep(for: .seconds(2))
            reader.cancel()
            return (try? await reader.value) ?? 0
        }
        #expect(whilePaused == 0)

        consumer.resume([partition])
        let after = try await KafkaTesting.collect(100, from: consumer)
        await consumer.close()
        #expect(after.map(\.offset) == Array(100..<200))
    }

    @Test("a full hand-off buffer pauses fetching; everything still arrives once, in order")
    func backpressureBoundsTheBuffer() async throws {
        let topic = try KafkaTesting.topic("bp", partitions: 2)
        try await KafkaTesting.produce(5_000, to: topic, partitions: 2)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic) {
            $0.handoff.maxBatchSize = 50
            $0.handoff.highWatermark = 200
            $0.handoff.lowWatermark = 100
        }

        // Do not read until fetching had time to fill the buffer and pause.
        try await waitUntil("back-pressure engaged") { consumer.core.state.withLock { $0.backpressure } }
        let buffered = consumer.core.handoff.count
        #expect(buffered >= 200 && buffered <= 200 + 50 + 50, "buffered \(buffered)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(consumer.core.handoff.count == buffered, "nothing is added while paused")

        let (records, maxBuffered) = try await withDeadline(.seconds(60), "slow reader") {
            var records: [KafkaRecord] = []
            var maxBuffered = 0
            for try await batch in consumer.batches {
                maxBuffered = max(maxBuffered, consumer.core.handoff.count)
                records += batch
                try await Task.sleep(for: .milliseconds(2))
                if records.count == 5_000 { break }
            }
            return (records, maxBuffered)
        }
        await consumer.close()
        #expect(maxBuffered <= 300)
        for partition in Int32(0)..<2 {
            #expect(records.filter { $0.partition == partition }.map(\.offset) == Array(0..<2_500))
        }
    }
}
