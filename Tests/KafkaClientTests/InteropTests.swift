import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Interoperability with kcat", .timeLimit(.minutes(2)))
struct InteropTests {
    @Test("kcat produces to the embedded cluster and our consumer reads it")
    func kcatProducesWeConsume() async throws {
        let topic = try KafkaTesting.topic("kcat-in")
        let lines = (0..<20).map { "k\($0):order \($0)" }.joined(separator: "\n") + "\n"
        _ = try await ExternalTool.kcat(["-P", "-b", KafkaTesting.shared.bootstrapServersString, "-t", topic, "-K:", "-p", "0"],
                          input: lines)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let records = try await KafkaTesting.collect(20, from: consumer)
        await consumer.close()
        #expect(records.map(\.keyString) == (0..<20).map { "k\($0)" })
        #expect(records.map(\.valueString) == (0..<20).map { "order \($0)" })
    }

    @Test("our producer writes plain Kafka that kcat reads, headers included")
    func weProduceKcatConsumes() async throws {
        let topic = try KafkaTesting.topic("kcat-out")
        let producer = try KafkaTesting.producer()
        _ = await producer.sendAll((0..<5).map {
            KafkaProducerRecord(topic: topic, key: "k\($0)", value: "v\($0)", headers: [KafkaHeader(name: "n", string: "\($0)")])
        })
        await producer.close()
        let output = try await ExternalTool.kcat(["-C", "-b", KafkaTesting.shared.bootstrapServersString, "-t", topic,
                                            "-o", "beginning", "-e", "-q", "-f", "%k=%s %h\\n"])
        #expect(output.split(separator: "\n").map(String.init) == (0..<5).map { "k\($0)=v\($0) n=\($0)" })
    }
}
