import KafkaClient
import KafkaWorkerTesting
import Testing

@Suite("Round trips on the embedded cluster", .timeLimit(.minutes(2)))
struct RoundTripTests {
    @Test("keys, values, headers, timestamps, null and empty fields arrive as produced")
    func fieldsRoundTrip() async throws {
        let topic = try KafkaTesting.topic("fields")
        let producer = try KafkaTesting.producer()
        let sent = [
            KafkaProducerRecord(topic: topic, key: "k1", value: "v1",
                                headers: [KafkaHeader(name: "h1", string: "a"), KafkaHeader(name: "h1", string: "b"),
                                          KafkaHeader(name: "nullheader", value: nil)],
                                timestampMilliseconds: 1_700_000_000_123),
            KafkaProducerRecord(topic: topic, key: nil, value: [0, 255, 1, 254]),
            KafkaProducerRecord(topic: topic, key: [1, 2, 3], value: nil),
            KafkaProducerRecord(topic: topic, key: [], value: []),
        ]
        var reports: [KafkaDeliveryReport] = []
        for record in sent { reports.append(try await producer.send(record)) }
        await producer.close()
        #expect(reports.map(\.offset) == [0, 1, 2, 3])
        #expect(reports.allSatisfy { $0.topic == topic && $0.partition == 0 })

        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let received = try await KafkaTesting.collect(4, from: consumer)
        await consumer.close()

        #expect(received.count == 4)
        let first = received[0]
        #expect(first.topic == topic && first.partition == 0 && first.offset == 0)
        #expect(first.keyString == "k1" && first.valueString == "v1")
        #expect(first.headers == sent[0].headers)
        #expect(first.header("h1")?.stringValue == "a")
        #expect(first.timestamp == KafkaTimestamp(kind: .createTime, milliseconds: 1_700_000_000_123))
        #expect(received[1].key == nil && received[1].value == [0, 255, 1, 254])
        #expect(received[1].timestamp?.kind == .createTime)
        #expect(received[2].key == [1, 2, 3] && received[2].value == nil)
        #expect(received[3].key == [] && received[3].value == [])
        #expect(received[1...].allSatisfy { $0.headers.isEmpty })
    }

    @Test("fetch.readHeaders = false leaves headers out and keeps everything else")
    func headersOff() async throws {
        let topic = try KafkaTesting.topic("noheaders")
        let producer = try KafkaTesting.producer()
        _ = try await producer.send(KafkaProducerRecord(topic: topic, key: "k", value: "v",
                                                        headers: [KafkaHeader(name: "h", string: "x")]))
        await producer.close()
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic) { $0.fetch.readHeaders = false }
        let received = try await KafkaTesting.collect(1, from: consumer)
        await consumer.close()
        #expect(received.first?.headers == [])
        #expect(received.first?.keyString == "k" && received.first?.valueString == "v")
    }

    @Test("10,000 records keep their order in every partition")
    func orderingPerPartition() async throws {
        let topic = try KafkaTesting.topic("order", partitions: 4)
        try await KafkaTesting.produce(10_000, to: topic, partitions: 4)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let received = try await KafkaTesting.collect(10_000, from: consumer)
        await consumer.close()

        #expect(received.count == 10_000)
        for partition in Int32(0)..<4 {
            let records = received.filter { $0.partition == partition }
            #expect(records.map(\.offset) == Array(0..<Int64(2_500)), "partition \(partition) offsets")
            // Produced in index order, so values within a partition must be in index order too.
            let indexes = records.map { Int($0.valueString!.dropFirst("value-".count))! }
            #expect(indexes == indexes.sorted(), "partition \(partition) values")
        }
        #expect(Set(received.map(\.valueString)).count == 10_000)
    }

    @Test("per-record sequence yields the same records as the batches")
    func perRecordSequence() async throws {
        let topic = try KafkaTesting.topic("records")
        try await KafkaTesting.produce(50, to: topic)
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic)
        let offsets = try await withDeadline(.seconds(30), "records") {
            var offsets: [Int64] = []
            for try await record in consumer.records {
                offsets.append(record.offset)
                if offsets.count == 50 { break }
            }
            return offsets
        }
        await consumer.close()
        #expect(offsets == Array(0..<50))
    }

    @Test("watermarks: queried and cached agree with what was produced")
    func watermarks() async throws {
        let topic = try KafkaTesting.topic("wm")
        try await KafkaTesting.produce(25, to: topic)
        let consumer = try KafkaConsumer(configuration: KafkaTesting.consumerConfiguration(group: KafkaTesting.unique("g")),
                                         logger: KafkaTesting.logger)
        let partition = KafkaTopicPartition(topic: topic, partition: 0)
        #expect(try await consumer.queryWatermarks(for: partition) == KafkaWatermarks(low: 0, high: 25))
        try await consumer.subscribe(topics: [topic])
        _ = try await KafkaTesting.collect(25, from: consumer)
        #expect(try consumer.cachedWatermarks(for: partition).high == 25)
        await consumer.close()
    }
}
