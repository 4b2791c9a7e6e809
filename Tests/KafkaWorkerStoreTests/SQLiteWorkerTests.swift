import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Testing

@Suite("Idempotent worker on SQLite", .timeLimit(.minutes(2)))
struct SQLiteWorkerTests {
    @Test("producer duplicates (new offsets) and redelivery (same offsets) each give exactly one effect")
    func duplicatesAndRedeliveryGiveOneEffect() async throws {
        let topic = try KafkaTesting.topic("sqlite-dups", partitions: 3)
        try await KafkaTesting.send(Orders.records(topic: topic, count: 60, duplicates: 20, partitions: 3))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-worker")).db").path
        let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE effects (id TEXT NOT NULL, partition INTEGER, offset INTEGER)")
        }
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.deadLetter.enabled = false
        let group = configuration.groupID
        func worker() -> RunningWorker {
            RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Order>(),
                                      idempotency: Idempotency(store: store, key: .field("id") { $0.id }),
                                      logger: KafkaTesting.logger) { record, transaction in
                // Deliberately no unique constraint here: only the marker keeps the effect single.
                try await transaction.execute("INSERT INTO effects VALUES (?, ?, ?)",
                                              [.text(record.value.id), .integer(Int64(record.partition)), .integer(record.offset)])
            })
        }
        let first = worker()
        try await waitUntil("80 records finished") { first.worker.statistics.processed == 80 }
        try await first.stop()
        #expect(first.worker.statistics.duplicatesSkipped == 20)
        #expect(first.events(.duplicateSkipped).count == 20)

        // Redelivery: the group's offsets go back to 0 (as after a lost commit); everything is read again.
        try await Self.rewind(group: group, topic: topic, partitions: 3)
        let second = worker()
        try await waitUntil("80 records read again") { second.worker.statistics.processed == 80 }
        try await second.stop()
        #expect(second.worker.statistics.duplicatesSkipped == 80)

        let counts = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("SELECT count(*), count(DISTINCT id) FROM effects")
        }
        #expect(counts == [[.integer(60), .integer(60)]])
        for partition in Int32(0)..<3 {
            let end = try await KafkaTesting.committed(group, topic, partition: partition)
            #expect(end > 0, "partition \(partition) committed")
        }
    }

    @Test("a record without the chosen dedup key is dead-lettered, never processed unprotected")
    func missingKeyIsDeadLettered() async throws {
        let topic = try KafkaTesting.topic("sqlite-nokey")
        try await KafkaTesting.send([
            KafkaProducerRecord(topic: topic, partition: 0, key: nil as String?, value: #"{"id":"a","orderNo":"1"}"#),
            KafkaProducerRecord(topic: topic, partition: 0, key: "b", value: #"{"id":"b","orderNo":"2"}"#),
        ])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-nokey")).db").path
        let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
        let handled = Tally()
        let worker = RunningWorker(KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: [topic]),
                                               decoder: JSONRecordDecoder<Order>(),
                                               idempotency: Idempotency(store: store, key: .recordKey),
                                               logger: KafkaTesting.logger) { _, _ in handled.add() })
        try await waitUntil("both finished") { worker.worker.statistics.processed + worker.worker.statistics.deadLettered == 2 }
        try await worker.stop()
        #expect(handled.value == 1)
        let letter = try #require(worker.events(.deadLettered).first)
        #expect(letter.error?.contains("no record key to deduplicate it by") == true)
    }

    /// Commits offset 0 for every partition of `topic` in `group`.
    static func rewind(group: String, topic: String, partitions: Int32) async throws {
        let consumer = try await KafkaTesting.consumer(subscribedTo: topic, group: group)
        try await waitUntil("assignment of \(topic)", within: .seconds(30)) { consumer.assignment.count == Int(partitions) }
        try await consumer.commit((0..<partitions).map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: 0) })
        await consumer.close()
    }
}
