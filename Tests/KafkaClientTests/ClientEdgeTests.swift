import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Client edges: closed producers, second readers", .timeLimit(.minutes(2)))
struct ClientEdgeTests {
    @Test("send after close fails at once instead of waiting forever")
    func sendAfterClose() async throws {
        let topic = try KafkaTesting.topic("closed-producer")
        let producer = try KafkaTesting.producer()
        try await producer.send(KafkaProducerRecord(topic: topic, key: "a", value: "1"))
        await producer.close(timeout: .seconds(5))
        let error = try await withDeadline(.seconds(10), "send after close") {
            await #expect(throws: KafkaError.self) { try await producer.send(KafkaProducerRecord(topic: topic, key: "b", value: "2")) }
        }
        #expect(error?.message.contains("closed") == true, "\(String(describing: error))")
    }

    @Test("a second reader of a consumer's batches is refused; the first keeps reading")
    func secondReaderRefused() async throws {
        let topic = try KafkaTesting.topic("two-readers")
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let first = Task { () -> Int in
            var count = 0
            for try await batch in consumer.batches {
                count += batch.count
                if count >= 5 { break }
            }
            return count
        }
        try await Task.sleep(for: .milliseconds(300))  // the first reader is waiting for records
        let second = await #expect(throws: KafkaError.self) {
            for try await _ in consumer.batches {}
        }
        #expect(second?.code == .state)
        try await KafkaTesting.produce(5, to: topic)
        let read = try await withDeadline(.seconds(20), "first reader") { try await first.value }
        #expect(read == 5)
        await consumer.close()
    }
}
