import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// `.key` ordering: a lane per key, so a key waits only for its own earlier records — never for another key that
/// happened to share one of `maxConcurrency` lanes with it.
@Suite("Key lanes", .timeLimit(.minutes(2)))
struct KeyLaneTests {
    @Test("maxConcurrency 2, a key held until every other key is done: the 39 other keys all finish around it")
    func slowKeyHoldsOnlyItself() async throws {
        let topic = try KafkaTesting.topic("key-lanes")
        let keys = 40
        try await produce((0..<keys * 5).map { itemRecord(topic: topic, id: "i\($0)", key: "k\($0 % keys)", partition: 0) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 2
        let ledger = Ledger()
        let others = (keys - 1) * 5
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger, handler: { record in
            if record.key.map({ String(decoding: $0, as: UTF8.self) }) == "k0" {
                // k0 holds its lane (one of the two running) until every record of the other keys is handled.
                let deadline = ContinuousClock.now + .seconds(30)
                while ledger.total < others, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            }
            ledger.note(record.value.id)
        }))
        try await waitUntil("the other keys' \(others) records handled while k0 waits", within: .seconds(20)) { ledger.total >= others }
        try await waitUntil("k0's records handled too", within: .seconds(20)) { ledger.total == keys * 5 }
        let order = ledger.order
        let k0 = order.enumerated().filter { Int($0.element.dropFirst())! % keys == 0 }.map(\.offset)
        #expect(k0.allSatisfy { $0 >= others }, "k0 finished only after the others (positions \(k0))")
        try await worker.stop()
    }

    @Test("a batch handler in .key order still gets batches of many keys (keys spread over maxConcurrency lanes)")
    func batchHandlerGetsManyKeys() async throws {
        let topic = try KafkaTesting.topic("key-batches")
        try await produce((0..<1_000).map { itemRecord(topic: topic, id: "i\($0)", key: "unique-\($0)", partition: 0) })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 4
        configuration.maxBatchSize = 500
        let ledger = Ledger()
        let calls = SharedCounter()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { batch in
            calls.add()
            for record in batch { ledger.note(record.value.id) }
        })
        try await waitUntil("1,000 handled", within: .seconds(30)) { ledger.total == 1_000 }
        try await worker.stop()
        // Four lanes share 1,000 keys: a lane's chunk holds whatever of its keys arrived together. A lane per key would
        // make 1,000 calls of one record.
        #expect(calls.value <= 100, "\(calls.value) batch calls for 1,000 records of 1,000 keys")
    }
}
