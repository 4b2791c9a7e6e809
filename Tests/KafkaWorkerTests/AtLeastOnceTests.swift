import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

@Suite("At-least-once: failures never lose a record", .timeLimit(.minutes(2)))
struct AtLeastOnceTests {
    @Test("the source chapter's loss: offset 5 fails, 6 succeeds → 5 is in the dead-letter topic, the commit covers all")
    func failedRecordGoesToDeadLetters() async throws {
        let topic = try KafkaTesting.topic("loss-dlq")
        try await produce((0..<10).map { itemRecord(topic: topic, id: "i\($0)") })
        let configuration = KafkaTesting.workerConfiguration(topics: [topic])
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            if record.offset == 5 { throw NonRetriableError("order 5 is rejected") }
        })
        try await waitUntil("10 records finished") { worker.worker.statistics.processed + worker.worker.statistics.deadLettered == 10 }
        try await worker.stop()
        #expect(worker.worker.statistics.deadLettered == 1)
        #expect(try await committed(configuration.groupID, topic) == 10)
        let letters = try await KafkaTesting.collect(1, from: KafkaTesting.consumer(subscribedTo: topic + ".dlq"))
        #expect(letters.first?.header("dlq.original.offset")?.stringValue == "5")
        #expect(letters.first?.valueString == #"{"id":"i5"}"#)
    }

    @Test("without dead letters, a failing offset 5 holds the commit at 5 while 6–9 finish; after a restart 5 comes back")
    func failedRecordIsRedeliveredAfterRestart() async throws {
        let topic = try KafkaTesting.topic("loss-restart")
        try await produce((0..<10).map { itemRecord(topic: topic, id: "i\($0)") })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.deadLetter.enabled = false
        configuration.ordering = .unordered  // so 6…9 finish while 5 keeps failing
        configuration.maxConcurrency = 4
        let first = Ledger()
        let failing = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                                logger: KafkaTesting.logger) { record in
            if record.offset == 5 { throw NonRetriableError("still failing") }
            first.note(record.value.id)
        })
        try await waitUntil("the other nine finished") { first.total == 9 }
        try await waitUntil("5 was retried") { failing.events(.retrying).count >= 2 }
        try await failing.stop()
        #expect(first.attempts["i5"] == nil)
        #expect(try await committed(configuration.groupID, topic) == 5, "never past the unfinished record")

        let second = Ledger()
        let healthy = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                                logger: KafkaTesting.logger) { record in second.note(record.value.id) })
        try await waitUntil("5 redelivered") { second.attempts["i5"] == 1 }
        try await healthy.stop()
        #expect(try await committed(configuration.groupID, topic) == 10)
    }

    @Test("a poison record is dead-lettered once and does not block the records after it")
    func poisonDoesNotBlock() async throws {
        let topic = try KafkaTesting.topic("poison")
        var records = (0..<100).map { itemRecord(topic: topic, id: "i\($0)") }
        records[3] = KafkaProducerRecord(topic: topic, key: "i3", value: "{not json")
        try await produce(records)
        let configuration = KafkaTesting.workerConfiguration(topics: [topic])
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in ledger.note(record.value.id) })
        try await waitUntil("99 handled") { ledger.total == 99 }
        try await waitFor("committed to the end") { (try? await committed(configuration.groupID, topic)) == 100 }
        try await worker.stop()
        #expect(worker.worker.statistics.deadLettered == 1)
        #expect(worker.events(.deadLettered).first?.attempts == 1, "decoding failures are not retried")
        #expect(worker.events(.retrying).isEmpty)
        #expect(ledger.order == (0..<100).filter { $0 != 3 }.map { "i\($0)" }, "in order, each once")
    }
}
