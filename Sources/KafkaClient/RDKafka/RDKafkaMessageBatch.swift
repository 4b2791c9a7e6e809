internal import Crdkafka
import Synchronization

/// Messages polled from librdkafka, not yet turned into ``KafkaRecord``s.
///
/// The poll thread only polls; the reader converts (``records()``), so the two share the work across cores.
/// The batch owns its messages: whatever is neither converted nor handed to another batch is destroyed with it.
final class RDKafkaMessageBatch: HandoffBatch {
    /// `@unchecked Sendable`: a message pointer is owned by exactly one batch, and only touched under its lock.
    private struct Message: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<rd_kafka_message_t>
    }

    private let messages: Mutex<[Message]>
    let count: Int

    init(_ pointers: [UnsafeMutablePointer<rd_kafka_message_t>]) {
        messages = Mutex(pointers.map(Message.init))
        count = pointers.count
    }

    private init(messages: [Message]) {
        self.messages = Mutex(messages)
        count = messages.count
    }

    deinit {
        for message in messages.withLock({ $0 }) { rd_kafka_message_destroy(message.pointer) }
    }

    /// Converts and frees the messages. A second call returns nothing.
    func records(readHeaders: Bool = true) -> [KafkaRecord] {
        let taken = messages.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
        var reader = RDKafkaMessageReader(readHeaders: readHeaders)
        var records: [KafkaRecord] = []
        records.reserveCapacity(taken.count)
        for message in taken {
            records.append(reader.record(from: message.pointer))
            rd_kafka_message_destroy(message.pointer)
        }
        return records
    }

    func removing(_ partitions: Set<KafkaTopicPartition>) -> RDKafkaMessageBatch {
        let taken = messages.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
        var kept: [Message] = []
        var names: [OpaquePointer: String] = [:]
        for message in taken {
            let rkt = message.pointer.pointee.rkt!
            let topic = names[rkt] ?? String(cString: rd_kafka_topic_name(rkt))
            names[rkt] = topic
            if partitions.contains(KafkaTopicPartition(topic: topic, partition: message.pointer.pointee.partition)) {
                rd_kafka_message_destroy(message.pointer)
            } else {
                kept.append(message)
            }
        }
        return RDKafkaMessageBatch(messages: kept)
    }
}
