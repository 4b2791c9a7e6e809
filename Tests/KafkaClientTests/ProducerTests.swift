import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Producer failures and unreachable clusters", .timeLimit(.minutes(2)))
struct ProducerTests {
    @Test("a broker refusing the records surfaces as the delivery error")
    func brokerRefusesRecords() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("refused", on: cluster)
        let producer = try KafkaTesting.producer(cluster)
        // Warm up so the producer id and metadata exist before the fault.
        try await producer.send(KafkaProducerRecord(topic: topic, key: "a", value: "ok"))
        try cluster.injectRequestErrors(Array(repeating: .messageSizeTooLarge, count: 5), for: .produce)
        await #expect {
            try await producer.send(KafkaProducerRecord(topic: topic, key: "b", value: "refused"))
        } throws: { error in
            (error as? KafkaError)?.code == .messageSizeTooLarge
        }
        await producer.close()
    }

    @Test("a record for a partition that does not exist fails at once")
    func unknownPartition() async throws {
        let topic = try KafkaTesting.topic("nopart")
        let producer = try KafkaTesting.producer()
        try await producer.send(KafkaProducerRecord(topic: topic, key: "warm", value: "up"))
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(KafkaProducerRecord(topic: topic, partition: 7, key: "x", value: "y"))
        }
        #expect(error?.code == .unknownPartition)
        await producer.close()
    }

    @Test("a record that cannot be delivered in time fails with _MSG_TIMED_OUT, not a hang")
    func deliveryTimesOut() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("timeout", on: cluster)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.deliveryTimeout = .seconds(2)
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTesting.logger)
        try await producer.send(KafkaProducerRecord(topic: topic, key: "a", value: "before"))
        try cluster.setBrokerDown(1)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(KafkaProducerRecord(topic: topic, key: "b", value: "lost broker"))
        }
        #expect(error?.code == .messageTimedOut)
        // Bounded by the 2 s delivery timeout plus librdkafka's timeout scan and idempotent-producer
        // drain (measured 2–11 s under a parallel test run); the default timeout alone is 120 s.
        #expect(clock.now - start < .seconds(20))
        // The error describes the failure, never the record's contents.
        #expect(error.map { !$0.description.contains("lost broker") } == true, "\(String(describing: error))")
        try cluster.setBrokerUp(1)
        // The producer reconnects with backoff; a later record is delivered.
        var delivered: KafkaDeliveryReport?
        for _ in 0..<10 where delivered == nil {
            delivered = try? await producer.send(KafkaProducerRecord(topic: topic, key: "c", value: "after"))
        }
        #expect(delivered != nil)
        await producer.close()
    }

    @Test("an unreachable bootstrap server ends the consumer's records with a clear error within the connect timeout")
    func unreachableBootstrap() async throws {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], groupID: "nobody")
        configuration.connection.connectTimeout = .seconds(2)
        let consumer = try KafkaConsumer(configuration: configuration, logger: KafkaTesting.logger)
        try await consumer.subscribe(topics: ["anything"])
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: KafkaError.self) {
            for try await _ in consumer.batches {}
        }
        #expect(clock.now - start < .seconds(8))
        let text = String(describing: error)
        #expect(text.contains("127.0.0.1:1"))
        #expect(text.contains("2000 ms"))
        #expect(error?.isRetriable == true)
        await consumer.close()
    }
}
