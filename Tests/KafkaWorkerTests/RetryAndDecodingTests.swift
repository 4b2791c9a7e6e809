import Foundation
import KafkaClient
@testable import KafkaWorker
import Testing

@Suite("Retry policy, decoding, dead-letter records, statistics (plain values)")
struct RetryAndDecodingTests {
    @Test("exponential backoff doubles up to the cap; jitter stays within ±jitter")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(100), maxBackoff: .seconds(2), jitter: 0.2)
        #expect(policy.baseDelay(afterAttempt: 1) == .milliseconds(100))
        #expect(policy.baseDelay(afterAttempt: 2) == .milliseconds(200))
        #expect(policy.baseDelay(afterAttempt: 3) == .milliseconds(400))
        #expect(policy.baseDelay(afterAttempt: 6) == .seconds(2), "capped")
        #expect(policy.baseDelay(afterAttempt: 500) == .seconds(2), "no overflow")
        #expect(policy.delay(afterAttempt: 1, unit: 0) == .milliseconds(80))
        #expect(policy.delay(afterAttempt: 1, unit: 0.5) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 2, unit: 0.999_999) <= .milliseconds(240))
    }

    @Test("bad worker settings name their key")
    func validation() {
        var configuration = WorkerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g", topics: ["t"])
        configuration.retry.maxAttempts = 0
        #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
        configuration.retry.maxAttempts = 3
        configuration.maxBufferedRecordsPerPartition = configuration.maxBufferedRecords + 1
        let error = #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
        #expect(error?.key == "maxBufferedRecordsPerPartition")
        configuration.maxBufferedRecordsPerPartition = 10
        configuration.deadLetter.topicName = { $0 }
        let looping = #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
        #expect(looping?.key == "deadLetter.topicName")
        configuration.deadLetter.topicName = { "\($0).dlq" }
        configuration.topics = []
        #expect((try? configuration.validate()) == nil)
    }

    struct Order: Decodable, Sendable { var id: Int }

    @Test("decoding failures say what is wrong without the payload", arguments: [
        ([UInt8]?.none, "null"), ([], "empty"), (Array("{\"id\":".utf8), "invalid JSON"),
        (Array("{\"name\":\"secret-payload\"}".utf8), "missing key \"id\""), (Array("{\"id\":\"x\"}".utf8), "expected Int"),
        ([0xFF, 0xFE], "invalid JSON"), (Array(String(repeating: "[", count: 10_000).utf8), "invalid JSON"),
    ])
    func decodingFailures(value: [UInt8]?, expected: String) {
        let record = KafkaRecord(topic: "t", partition: 0, offset: 0, value: value.map(KafkaBytes.init))
        let error = #expect(throws: DecodingFailure.self) { try JSONRecordDecoder<Order>().decode(record) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.description.contains("secret-payload") == false)
        #expect(error.map { !$0.isRetriable } == true)
    }

    @Test("a dead letter keeps key, value and headers and adds where it came from and why")
    func deadLetterRecord() throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: ["127.0.0.1:1"]))
        var configuration = DeadLetterConfiguration()
        configuration.maxErrorMessageBytes = 40
        let publisher = DeadLetterPublisher(producer: producer, configuration: configuration, group: "orders",
                                            secrets: ["hunter2"])
        let record = KafkaRecord(topic: "orders", partition: 3, offset: 42, key: [1, 2], value: [3, 4],
                                 headers: [KafkaHeader(name: "trace", string: "abc")],
                                 timestamp: KafkaTimestamp(kind: .createTime, milliseconds: 1_700_000_000_000))
        let error = NonRetriableError("password hunter2 rejected and this message is long enough to be cut")
        let letter = publisher.letter(for: record, error: error, attempts: 3, failedAt: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(letter.topic == "orders.dlq")
        #expect(letter.key == [1, 2] && letter.value == [3, 4])
        #expect(letter.timestampMilliseconds == 1_700_000_000_000)
        let headers = Dictionary(letter.headers.map { ($0.name, $0.stringValue ?? "") }, uniquingKeysWith: { first, _ in first })
        #expect(headers["trace"] == "abc")
        #expect(headers["dlq.original.topic"] == "orders")
        #expect(headers["dlq.original.partition"] == "3")
        #expect(headers["dlq.original.offset"] == "42")
        #expect(headers["dlq.original.timestamp"] == "1700000000000")
        #expect(headers["dlq.error.type"] == "KafkaWorker.NonRetriableError")
        #expect(headers["dlq.attempts"] == "3")
        #expect(headers["dlq.group"] == "orders")
        #expect(headers["dlq.failed.at"] == "1800000000000")
        let message = try #require(headers["dlq.error.message"])
        #expect(!message.contains("hunter2"), "secrets are scrubbed")
        #expect(message.utf8.count <= 40 && message.hasSuffix("..."), "truncated: \(message)")
    }

    @Test("the error rate is failed / (processed + failed) and never NaN")
    func errorRate() {
        var statistics = WorkerStatistics()
        #expect(statistics.errorRate == 0)
        statistics.failed = 5
        #expect(statistics.errorRate == 1)
        statistics.processed = 15
        #expect(statistics.errorRate == 0.25)
    }
}
