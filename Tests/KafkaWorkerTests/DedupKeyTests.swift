import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

@Suite("Dedup keys are bytes: distinct keys stay distinct", .timeLimit(.minutes(2)))
struct DedupKeyTests {
    static func record(key: [UInt8]?, headers: [KafkaHeader] = [], offset: Int64 = 0) -> WorkerRecord<KafkaRecord> {
        let record = KafkaRecord(topic: "t", partition: 0, offset: offset, key: key.map { KafkaBytes($0) }, headers: headers)
        return WorkerRecord(record: record, value: record, attempt: 1)
    }

    @Test("Avro longs 1000 and 1001 (D0 0F, D2 0F) and other invalid UTF-8 keys are distinct")
    func binaryKeysAreDistinct() throws {
        let keys: [[UInt8]] = [[0xD0, 0x0F], [0xD2, 0x0F], [0xFF], [0xFE], [0x80, 0x80], [0xC0, 0x80], [0x00], [0x00, 0x00],
                               [0x41, 0x00, 0x42], [0xEF, 0xBF, 0xBD], Array("\u{FFFD}\u{FFFD}".utf8)]
        let texts = try keys.map { try DedupKey<KafkaRecord>.recordKey.value(of: Self.record(key: $0)) }
        #expect(Set(texts).count == keys.count, "every distinct key has a distinct stored form: \(texts.map { Array($0.utf8) })")
        // Stored forms never contain NUL (PostgreSQL TEXT refuses it).
        #expect(texts.allSatisfy { !$0.utf8.contains(0) })
    }

    @Test("valid UTF-8 keys are stored as they are (markers written before stay valid)")
    func textKeysUnchanged() throws {
        for text in ["order-1", "ünïcödé", "a b c", "\u{1F600}"] {
            #expect(try DedupKey<KafkaRecord>.recordKey.value(of: Self.record(key: Array(text.utf8))) == text)
            let header = Self.record(key: nil, headers: [KafkaHeader(name: "id", string: text)])
            #expect(try DedupKey<KafkaRecord>.header("id").value(of: header) == text)
        }
    }

    @Test("a text key that looks like an escaped one does not collide with the bytes it would stand for")
    func escapeLookalikes() throws {
        let binary = try DedupKey<KafkaRecord>.recordKey.value(of: Self.record(key: [0xD0, 0x0F]))
        let lookalike = try DedupKey<KafkaRecord>.recordKey.value(of: Self.record(key: Array(binary.utf8)))
        #expect(binary != lookalike)
        let field = DedupKey<KafkaRecord>.field("id") { _ in binary }
        #expect(try field.value(of: Self.record(key: nil)) != binary)
        let nul = DedupKey<KafkaRecord>.field("id") { _ in "a\u{0}b" }
        #expect(try !nul.value(of: Self.record(key: nil)).utf8.contains(0))
    }

    @Test("binary header values are distinct too")
    func binaryHeaders() throws {
        let a = Self.record(key: nil, headers: [KafkaHeader(name: "id", value: [0xD0, 0x0F])])
        let b = Self.record(key: nil, headers: [KafkaHeader(name: "id", value: [0xD2, 0x0F])])
        let key = DedupKey<KafkaRecord>.header("id")
        #expect(try key.value(of: a) != key.value(of: b))
    }

    @Test("a live worker applies records with keys D0 0F and D2 0F once each, skipping none")
    func binaryKeysInTheWorker() async throws {
        let topic = try KafkaTesting.topic("binary-keys")
        let keys: [[UInt8]] = [[0xD0, 0x0F], [0xD2, 0x0F], [0xD0, 0x0F], [0x00], [0xFF]]
        try await produce(keys.map { KafkaProducerRecord(topic: topic, partition: 0, key: KafkaBytes($0), value: KafkaBytes([1])) })
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(
            configuration: KafkaTesting.workerConfiguration(topics: [topic]), decoder: RawRecordDecoder(),
            idempotency: Idempotency(store: InMemoryIdempotencyStore(), key: .recordKey),
            logger: KafkaTesting.logger) { record, _ in ledger.note("\(Array(record.key ?? []))") })
        try await waitUntil("5 records finished") {
            worker.worker.statistics.processed + worker.worker.statistics.deadLettered == 5
        }
        try await worker.stop()
        #expect(ledger.total == 4, "four distinct keys applied: \(ledger.order)")
        #expect(worker.worker.statistics.duplicatesSkipped == 1, "only the repeated D0 0F is a duplicate")
        #expect(worker.worker.statistics.deadLettered == 0)
    }
}
