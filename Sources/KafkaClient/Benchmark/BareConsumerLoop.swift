internal import Crdkafka
import Foundation

/// The ceiling for benchmarks: a plain librdkafka consumer loop with no hand-off to Swift concurrency —
/// `rd_kafka_consumer_poll` on a dedicated thread, offsets stored by librdkafka as messages are returned
/// (`enable.auto.offset.store=true`) and committed on the auto-commit interval. What the worker adds on top
/// is measured against this, on the same broker, in the same run.
public enum BareConsumerLoop {
    /// The result of one run.
    public struct Result: Sendable {
        public var records: Int
        /// From the first record returned to the last one counted (group join excluded).
        public var elapsed: Duration
        public var recordsPerSecond: Double {
            elapsed > .zero ? Double(records) / elapsed.seconds : 0
        }
    }

    /// Consumes `count` records of `topics` in group `configuration.groupID`, then closes.
    /// - Throws: ``KafkaConfigurationError`` for bad settings, ``KafkaError`` if `count` records do not arrive
    ///   within `timeout`.
    public static func run(configuration: KafkaConsumerConfiguration, topics: [String], count: Int,
                           timeout: Duration = .seconds(120)) async throws -> Result {
        var props = try configuration.properties(libraryVersion: KafkaLibrary.versionNumber)
        props["enable.auto.offset.store"] = "true"
        let client = try RDKafkaClient(kind: .consumer, properties: props,
                                       callbacks: RDKafkaCallbacks(logger: .init(label: "bare-loop"), secrets: props.secretValues))
        let list = RDKafkaTopicPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        try KafkaError.check(list.withPointer { rd_kafka_subscribe(client.pointer, $0) }, operation: "subscribe")
        let limit = timeout
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let clock = ContinuousClock()
                let deadline = clock.now + limit
                var first: ContinuousClock.Instant?
                var seen = 0
                var polls = 0
                // The clock is read every 1,024 polls only: the loop should cost what librdkafka costs.
                while seen < count && (polls & 1023 != 0 || clock.now < deadline) {
                    polls &+= 1
                    guard let message = rd_kafka_consumer_poll(client.pointer, 100) else { continue }
                    if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                        if first == nil { first = clock.now }
                        seen += 1
                    }
                    rd_kafka_message_destroy(message)
                }
                let elapsed = first.map { clock.now - $0 } ?? .zero
                _ = client.closeConsumer()
                if seen < count {
                    continuation.resume(throwing: KafkaError(
                        code: .timedOut, operation: "bare loop", message: "only \(seen) of \(count) records within \(limit)"))
                } else {
                    continuation.resume(returning: Result(records: seen, elapsed: elapsed))
                }
            }
            thread.name = "kafka-bare-loop"
            thread.start()
        }
    }
}
