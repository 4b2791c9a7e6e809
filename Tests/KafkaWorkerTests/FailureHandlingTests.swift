import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

@Suite("Retries, dead letters and the watchdog", .timeLimit(.minutes(2)))
struct FailureHandlingTests {
    struct Transient: Error {}

    @Test("records failing 3 times are attempted exactly 4 times, with backoff 100 ms ×2 and ±20 % jitter")
    func retryCountsAndBackoff() async throws {
        let topic = try KafkaTesting.topic("retry")
        try await produce((0..<20).map { itemRecord(topic: topic, id: "i\($0)") })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.retry = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(100), maxBackoff: .seconds(2), jitter: 0.2)
        let clock = RecordingClock()
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger, clock: clock, random: { 0.75 }) { record in
            ledger.note(record.value.id)
            let index = Int(record.value.id.dropFirst())!
            if index % 5 == 0 && record.attempt <= 3 { throw Transient() }
        })
        try await waitUntil("20 handled") { worker.worker.statistics.processed == 20 }
        try await worker.stop()
        for index in 0..<20 {
            #expect(ledger.attempts["i\(index)"] == (index % 5 == 0 ? 4 : 1), "i\(index)")
        }
        // A retried record keeps its place: nothing after it in the partition ran before its last attempt.
        let expectedOrder = (0..<20).flatMap { index in Array(repeating: "i\(index)", count: index % 5 == 0 ? 4 : 1) }
        #expect(ledger.order == expectedOrder)
        // unit 0.75 → +10 %: 110, 220, 440 ms for each of the 4 failing records.
        let expected: [Duration] = [.milliseconds(110), .milliseconds(220), .milliseconds(440)]
        let sleeps = clock.recorded
        #expect(sleeps.count == 12)
        for (index, sleep) in sleeps.enumerated() {
            let target = expected[index % 3]
            #expect(abs((sleep - target).seconds) < 0.005, "sleep \(index): \(sleep) vs \(target)")
        }
        #expect(worker.events(.retrying).count == 12)
        #expect(worker.worker.statistics.deadLettered == 0)
        #expect(worker.worker.statistics.failed == 12)
        #expect(worker.events(.retrying).allSatisfy { event in
            let base = [0.1, 0.2, 0.4][(event.attempts ?? 1) - 1]
            let delay = event.delay?.seconds ?? 0
            return delay >= base * 0.8 && delay <= base * 1.2
        })
    }

    @Test("a dead letter carries the original key, value, headers and timestamp, and exact origin headers")
    func deadLetterContents() async throws {
        let topic = try KafkaTesting.topic("dlqexact")
        let poison = KafkaProducerRecord(topic: topic, key: "order-7", value: "{\"id\": 7,",
                                         headers: [KafkaHeader(name: "trace-id", string: "t-1"), KafkaHeader(name: "empty", value: nil)],
                                         timestampMilliseconds: 1_700_000_000_000)
        try await produce([itemRecord(topic: topic, id: "ok"), poison])
        let configuration = KafkaTesting.workerConfiguration(topics: [topic])
        let before = Date()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger, handler: { _ in }))
        try await waitUntil("dead-lettered") { worker.worker.statistics.deadLettered == 1 }
        try await worker.stop()
        let letter = try #require(try await KafkaTesting.collect(1, from: KafkaTesting.consumer(subscribedTo: topic + ".dlq")).first)
        #expect(letter.keyString == "order-7")
        #expect(letter.valueString == "{\"id\": 7,")
        #expect(letter.timestamp?.milliseconds == 1_700_000_000_000)
        #expect(Array(letter.headers.prefix(2)) == poison.headers)
        let headers = Dictionary(letter.headers.dropFirst(2).map { ($0.name, $0.stringValue ?? "") }, uniquingKeysWith: { $1 })
        #expect(headers["dlq.original.topic"] == topic)
        #expect(headers["dlq.original.partition"] == "0")
        #expect(headers["dlq.original.offset"] == "1")
        #expect(headers["dlq.original.timestamp"] == "1700000000000")
        #expect(headers["dlq.error.type"] == "KafkaWorker.DecodingFailure")
        #expect(headers["dlq.error.message"]?.hasPrefix("cannot decode the record") == true)
        #expect(headers["dlq.attempts"] == "1")
        #expect(headers["dlq.group"] == configuration.groupID)
        let failedAt = Double(headers["dlq.failed.at"] ?? "0")! / 1000
        #expect(failedAt >= before.timeIntervalSince1970 - 1 && failedAt <= Date().timeIntervalSince1970 + 1)
        #expect(letter.header("dlq.error.message")!.value!.count <= 1_024)
    }

    @Test("while the dead-letter topic refuses records, nothing is committed past the poison record")
    func deadLetterFailureBlocksCommits() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("dlqdown", on: cluster)
        try cluster.createTopic(topic + ".dlq", partitions: 1)
        var records = (0..<10).map { itemRecord(topic: topic, id: "i\($0)") }
        records[2] = KafkaProducerRecord(topic: topic, key: "i2", value: "poison")
        try await produce(records, cluster: cluster)
        var configuration = KafkaTesting.workerConfiguration(cluster, topics: [topic])
        configuration.retry = RetryPolicy(maxAttempts: 1, initialBackoff: .milliseconds(200), maxBackoff: .milliseconds(200))
        try cluster.injectRequestErrors(Array(repeating: .messageSizeTooLarge, count: 3), for: .produce)
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in ledger.note(record.value.id) })
        try await waitUntil("two dead-letter failures") { worker.events(.deadLetterFailed).count >= 2 }
        #expect(ledger.order == ["i0", "i1"], "records after the poison wait (partition order)")
        let blocked = try await committed(configuration.groupID, topic, cluster: cluster)
        #expect(blocked <= 2, "committed \(blocked) while offset 2 is not dead-lettered")
        try await waitUntil("all finished once the topic takes records") { ledger.total == 9 }
        let group = configuration.groupID
        try await waitFor("committed to the end") { (try? await committed(group, topic, cluster: cluster)) == 10 }
        try await worker.stop()
        #expect(worker.worker.statistics.deadLettered == 1)
        #expect(worker.events(.deadLetterFailed).count == 3)
    }

    @Test("the watchdog reports a record running past its deadline and keeps waiting")
    func watchdogReports() async throws {
        let topic = try KafkaTesting.topic("watchdog")
        try await produce((0..<5).map { itemRecord(topic: topic, id: "i\($0)") })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.watchdog = WatchdogConfiguration(deadline: .milliseconds(300), action: .report)
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            if record.value.id == "i2" { try await Task.sleep(for: .seconds(1)) }
        })
        try await waitUntil("5 handled") { worker.worker.statistics.processed == 5 }
        try await worker.stop()
        let reports = worker.events(.watchdog)
        #expect(reports.count == 1, "reported once: \(reports)")
        #expect(reports.first?.record == KafkaTopicPartitionOffset(topic: topic, partition: 0, offset: 2))
        #expect(worker.worker.statistics.watchdog == 1)
        #expect(worker.worker.statistics.failed == 0)
    }

    @Test("cancel-and-retry: a hung handler is cancelled at the deadline and the record retried")
    func watchdogCancels() async throws {
        let topic = try KafkaTesting.topic("watchdog-cancel")
        try await produce((0..<3).map { itemRecord(topic: topic, id: "i\($0)") })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.watchdog = WatchdogConfiguration(deadline: .milliseconds(300), action: .cancelAndRetry)
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            ledger.note(record.value.id)
            // The first attempt of i1 hangs until cancelled.
            if record.value.id == "i1" && record.attempt == 1 { try await Task.sleep(for: .seconds(3600)) }
        })
        try await waitUntil("3 handled") { worker.worker.statistics.processed == 3 }
        try await worker.stop()
        #expect(ledger.attempts == ["i0": 1, "i1": 2, "i2": 1])
        #expect(worker.events(.watchdog).count == 1)
        #expect(worker.events(.retrying).first?.error?.contains("watchdog deadline") == true)
    }
}
