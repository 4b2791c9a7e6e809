import KafkaClient
import KafkaWorkerTesting
import Testing

/// Our consumer, producer and admin client against Tansu, an independent broker (the other suites run on
/// librdkafka's own mock cluster).
@Suite("Tansu: consumer, producer, admin", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: TansuSupport.runs, TansuSupport.reason))
struct TansuClientTests {
    @Test("records produced to Tansu come back in order with keys, values and headers; commits are read back")
    func roundTrip() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("rt", partitions: 2)
            let producer = try TansuSupport.producer(broker)
            let sent = (0..<200).map {
                KafkaProducerRecord(topic: topic, partition: Int32($0 % 2), key: "k\($0)", value: "v\($0)",
                                    headers: [KafkaHeader(name: "n", string: "\($0)")])
            }
            let reports = try await producer.sendAll(sent).map { try $0.get() }
            await producer.close()
            #expect(reports.filter { $0.partition == 0 }.map(\.offset) == Array(0..<100))
            #expect(reports.filter { $0.partition == 1 }.map(\.offset) == Array(0..<100))

            let group = KafkaTesting.unique("g-rt")
            let consumer = try await TansuSupport.consumer(broker, topic: topic, group: group)
            let received = try await KafkaTesting.collect(200, from: consumer)
            try await consumer.commit()
            let committed = try await consumer.committedOffsets(for: [.init(topic: topic, partition: 0),
                                                                      .init(topic: topic, partition: 1)])
            await consumer.close()
            for partition in Int32(0)...1 {
                let mine = received.filter { $0.partition == partition }
                #expect(mine.map(\.offset) == Array(0..<100))
                #expect(mine.map(\.keyString) == stride(from: Int(partition), to: 200, by: 2).map { "k\($0)" })
                #expect(mine.map { $0.header("n")?.stringValue } == stride(from: Int(partition), to: 200, by: 2).map { "\($0)" })
            }
            #expect(committed.map(\.offset) == [100, 100])
        }
    }

    @Test("KafkaAdmin for real: createTopic, partitionCount, watermarks, committedOffsets")
    func admin() async throws {
        try await TansuBroker.with { broker in
            let admin = try KafkaAdmin(connection: .init(bootstrapServers: broker.bootstrapServers), logger: KafkaTesting.logger)
            let topic = KafkaTesting.unique("admin")
            try await admin.createTopic(topic, partitions: 3)
            #expect(try await admin.partitionCount(topic: topic) == 3)
            // Again: an existing topic is fine with ifNotExists (the default) and an error without it.
            try await admin.createTopic(topic, partitions: 3)
            await #expect(throws: KafkaError.self) { try await admin.createTopic(topic, partitions: 3, ifNotExists: false) }

            // One record per batch: Tansu's end offset is only right for those (see `latestOffsetOfABatch`).
            for index in 0..<7 {
                try await KafkaTesting.send([KafkaProducerRecord(topic: topic, partition: 1, key: "k", value: "v\(index)")],
                                            to: broker.bootstrapServers)
            }
            let marks = try await admin.watermarks(for: .init(topic: topic, partition: 1))
            #expect(marks.low == 0 && marks.high == 7, "\(marks)")

            let group = KafkaTesting.unique("g-admin")
            let consumer = try await TansuSupport.consumer(broker, topic: topic, group: group)
            _ = try await KafkaTesting.collect(7, from: consumer)
            try await consumer.commit()
            await consumer.close()
            let offsets = try await admin.committedOffsets(group: group, partitions: (0..<3).map { .init(topic: topic, partition: $0) })
            #expect(offsets.map(\.offset) == [KafkaOffset.invalid, 7, KafkaOffset.invalid])
        }
    }

    /// Finding (Tansu 0.6, not the mock): ListOffsets(latest) answers the base offset of the partition's last batch
    /// + 1 instead of its last offset + 1. With 7 records in one batch the end is 1, not 7 — so end offsets, lag,
    /// and `auto.offset.reset = latest` (which starts inside the batch and re-reads old records) are wrong there.
    /// Records produced one per batch are not affected. Pinned: when this fails, Tansu was fixed — drop the pin.
    @Test("pinned Tansu bug: the end offset after a 7-record batch is 1, and `latest` re-reads that batch")
    func latestOffsetOfABatch() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("batch-end")
            var configuration = KafkaTesting.producerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.linger = .milliseconds(500)  // the seven records go out as one batch
            let producer = try KafkaProducer(configuration: configuration, logger: KafkaTesting.logger)
            let reports = try await producer.sendAll((0..<7).map { KafkaProducerRecord(topic: topic, key: "k", value: "v\($0)") })
                .map { try $0.get() }
            await producer.close()
            #expect(reports.map(\.offset) == Array(0..<7))

            let admin = try KafkaAdmin(connection: .init(bootstrapServers: broker.bootstrapServers), logger: KafkaTesting.logger)
            let partition = KafkaTopicPartition(topic: topic, partition: 0)
            #expect(try await admin.watermarks(for: partition) == KafkaWatermarks(low: 0, high: 1), "a correct broker says 7")

            let consumer = try await TansuSupport.consumer(broker, topic: topic) { $0.autoOffsetReset = .latest }
            let records = try await KafkaTesting.collect(6, from: consumer)
            await consumer.close()
            #expect(records.map(\.offset) == Array(1..<7), "a correct broker delivers nothing older than offset 7")
        }
    }
}
