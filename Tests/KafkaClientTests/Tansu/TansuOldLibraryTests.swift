import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

/// librdkafka before 2.2.0 against Tansu: the handshake cannot succeed (librdkafka misreads the tagged fields of
/// Tansu's ApiVersions v3 response), so start-up must fail soon and say why, instead of retrying until a timeout.
@Suite("Tansu with librdkafka < 2.2.0: a clear, bounded failure", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: TansuSupport.oldLibraryRuns, TansuSupport.oldLibraryReason))
struct TansuOldLibraryTests {
    @Test("a consumer's start fails within 3 s naming the ApiVersion handshake and librdkafka ≥ 2.2.0")
    func consumerFailsClearly() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("old")
            let started = ContinuousClock.now
            // connectTimeout is 5 s: the diagnosis must end the wait before it.
            let consumer = try await TansuSupport.consumer(broker, topic: topic)
            let error = await #expect(throws: KafkaError.self) { _ = try await KafkaTesting.collect(1, from: consumer) }
            let elapsed = ContinuousClock.now - started
            await consumer.close()
            #expect(elapsed < .seconds(3), "failed after \(elapsed)")
            #expect(error?.code == .unsupportedVersion)
            let message = error?.message ?? ""
            #expect(message.contains("the broker at 127.0.0.1:\(broker.port)"), "\(message)")
            #expect(message.contains("ApiVersion handshake") && message.contains("librdkafka ≥ 2.2.0"), "\(message)")
        }
    }

    @Test("a producer's send fails within its delivery timeout and says the broker was unreachable, and why")
    func producerFailsClearly() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("old-p")
            var configuration = KafkaTesting.producerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.deliveryTimeout = .seconds(3)
            let producer = try KafkaProducer(configuration: configuration, logger: KafkaTesting.logger)
            let started = ContinuousClock.now
            let result = await producer.sendAll([KafkaProducerRecord(topic: topic, key: "k", value: "v")])[0]
            let elapsed = ContinuousClock.now - started
            await producer.close(timeout: .seconds(1))
            #expect(elapsed < .seconds(6), "failed after \(elapsed)")
            guard case .failure(let error) = result else { Issue.record("delivered to Tansu with librdkafka \(KafkaLibrary.version)"); return }
            #expect(error.code == .messageTimedOut)
            #expect(error.message.contains("ApiVersion handshake") && error.message.contains("librdkafka ≥ 2.2.0"),
                    "\(error.message)")
        }
    }

    @Test("KafkaAdmin.createTopic fails within its timeout and says why")
    func adminFailsBounded() async throws {
        try await TansuBroker.with { broker in
            let admin = try KafkaAdmin(connection: .init(bootstrapServers: broker.bootstrapServers), logger: KafkaTesting.logger)
            let started = ContinuousClock.now
            let error = await #expect(throws: KafkaError.self) {
                try await admin.createTopic(KafkaTesting.unique("old-admin"), partitions: 1, timeout: .seconds(3))
            }
            #expect(ContinuousClock.now - started < .seconds(6))
            #expect(error?.message.contains("ApiVersion handshake") == true, "\(String(describing: error))")
        }
    }
}
