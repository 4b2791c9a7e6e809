import Foundation
import KafkaClient
import Logging

/// Publishes records that cannot be handled to their dead-letter topic: the original key, value and headers,
/// plus headers for where the record came from and why it failed.
struct DeadLetterPublisher: Sendable {
    /// Header names, in one place.
    enum Header {
        static let topic = "dlq.original.topic"
        static let partition = "dlq.original.partition"
        static let offset = "dlq.original.offset"
        static let timestamp = "dlq.original.timestamp"
        static let errorType = "dlq.error.type"
        static let errorMessage = "dlq.error.message"
        static let attempts = "dlq.attempts"
        static let group = "dlq.group"
        static let failedAt = "dlq.failed.at"
    }

    let producer: KafkaProducer
    let configuration: DeadLetterConfiguration
    let group: String
    /// Secret values to remove from error messages before they are written anywhere.
    let secrets: [String]

    /// The dead-letter record for `record`, which failed with `error` after `attempts` attempts.
    func letter(for record: KafkaRecord, error: any Error, attempts: Int, failedAt: Date) -> KafkaProducerRecord {
        var headers = record.headers
        headers.append(KafkaHeader(name: Header.topic, string: record.topic))
        headers.append(KafkaHeader(name: Header.partition, string: String(record.partition)))
        headers.append(KafkaHeader(name: Header.offset, string: String(record.offset)))
        if let timestamp = record.timestamp {
            headers.append(KafkaHeader(name: Header.timestamp, string: String(timestamp.milliseconds)))
        }
        headers.append(KafkaHeader(name: Header.errorType, string: error.typeName))
        headers.append(KafkaHeader(name: Header.errorMessage, string: describe(error)))
        headers.append(KafkaHeader(name: Header.attempts, string: String(attempts)))
        headers.append(KafkaHeader(name: Header.group, string: group))
        headers.append(KafkaHeader(name: Header.failedAt, string: String(Int64(failedAt.timeIntervalSince1970 * 1000))))
        return KafkaProducerRecord(topic: configuration.topicName(record.topic), key: record.key, value: record.value,
                                   headers: headers, timestampMilliseconds: record.timestamp?.milliseconds)
    }

    /// Publishes and waits for the delivery report.
    func publish(_ record: KafkaRecord, error: any Error, attempts: Int) async throws(KafkaError) {
        try await producer.send(letter(for: record, error: error, attempts: attempts, failedAt: Date()))
    }

    /// The error's description without secrets, cut to `maxErrorMessageBytes` on a character boundary.
    func describe(_ error: any Error) -> String {
        var text = String(describing: error)
        for secret in secrets where !secret.isEmpty { text = text.replacing(secret, with: "[REDACTED]") }
        let limit = configuration.maxErrorMessageBytes
        guard text.utf8.count > limit else { return text }
        var cut = ""
        for character in text {
            if cut.utf8.count + character.utf8.count > limit - 3 { break }
            cut.append(character)
        }
        return cut + "..."
    }

    /// Makes sure each topic's dead-letter topic exists: creates missing ones where the cluster allows, and
    /// otherwise relies on the broker creating them on first use (logged).
    func prepareTopics(for topics: [String], logger: Logger) async {
        let admin: KafkaAdmin
        do {
            admin = try KafkaAdmin(connection: producer.configuration.connection, logger: logger)
        } catch {
            logger.warning("cannot check dead-letter topics", metadata: [LogKey.error: "\(error)"])
            return
        }
        for topic in Set(topics.map(configuration.topicName)).sorted() {
            if let count = try? await admin.partitionCount(topic: topic, timeout: .seconds(5)), count > 0 { continue }
            do {
                try await admin.createTopic(topic, partitions: configuration.partitions, timeout: .seconds(5))
                logger.info("dead-letter topic created", metadata: [LogKey.topic: "\(topic)"])
            } catch {
                logger.warning("dead-letter topic not created; it will be created on first use if the cluster allows",
                               metadata: [LogKey.topic: "\(topic)", LogKey.error: "\(error)"])
            }
        }
    }
}
