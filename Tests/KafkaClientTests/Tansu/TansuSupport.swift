import KafkaClient
import KafkaWorkerTesting
import Testing

/// Tansu tests run where the binary is (or must be: CI) and librdkafka can talk to Tansu (≥ 2.2.0).
enum TansuSupport {
    static let runs = TansuBroker.expected && TansuBroker.librdkafkaCanTalkToTansu
    static let reason = Comment(rawValue: "needs Tansu (KAFKA_WORKER_TEST_TANSU; ./scripts/test sets it) and librdkafka "
        + "≥ 2.2.0 (older releases misread Tansu's ApiVersions response); loaded: \(KafkaLibrary.version)")
    /// For the tests of what an older librdkafka does against Tansu.
    static let oldLibraryRuns = TansuBroker.expected && !TansuBroker.librdkafkaCanTalkToTansu
    static let oldLibraryReason = Comment(rawValue: "needs Tansu and librdkafka < 2.2.0; loaded: \(KafkaLibrary.version)")

    static func consumer(_ broker: TansuBroker, topic: String, group: String? = nil,
                         configure: (inout KafkaConsumerConfiguration) -> Void = { _ in }) async throws -> KafkaConsumer {
        var configuration = KafkaTesting.consumerConfiguration(bootstrapServers: broker.bootstrapServers,
                                                               group: group ?? KafkaTesting.unique("g"))
        configure(&configuration)
        let consumer = try KafkaConsumer(configuration: configuration, logger: KafkaTesting.logger)
        try await consumer.subscribe(topics: [topic])
        return consumer
    }

    static func producer(_ broker: TansuBroker) throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaTesting.producerConfiguration(bootstrapServers: broker.bootstrapServers),
                          logger: KafkaTesting.logger)
    }
}
