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
    let byteCount: Int
    /// For records whose headers are parsed on first use: the client their messages need alive, and where
    /// kept messages are tracked.
    private let client: RDKafkaClient
    private let registry: RDKafkaHeaderRegistry
    /// The consumer's assignment generation when these messages were polled (see `ConsumerCore.generation`).
    let generation: Int

    convenience init(_ pointers: [UnsafeMutablePointer<rd_kafka_message_t>], client: RDKafkaClient, registry: RDKafkaHeaderRegistry,
                     generation: Int) {
        self.init(messages: pointers.map(Message.init), client: client, registry: registry, generation: generation)
    }

    private init(messages: [Message], client: RDKafkaClient, registry: RDKafkaHeaderRegistry, generation: Int) {
        count = messages.count
        byteCount = messages.reduce(0) { $0 + $1.pointer.pointee.len + $1.pointer.pointee.key_len }
        self.messages = Mutex(messages)
        self.client = client
        self.registry = registry
        self.generation = generation
    }

    deinit {
        for message in messages.withLock({ $0 }) { rd_kafka_message_destroy(message.pointer) }
    }

    /// Converts the messages. They go to the poll thread to be freed now, or once the records are gone when headers
    /// are read (parsed on first use). A second call returns nothing.
    func records(readHeaders: Bool = true) -> [KafkaRecord] {
        let taken = messages.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
        guard !taken.isEmpty else { return [] }
        let pointers = taken.map(\.pointer)
        guard readHeaders else {
            defer { registry.retire(RDKafkaRetiredMessages(messages: pointers, client: client)) }
            return RDKafkaMessageReader.records(from: pointers, headerSource: nil)
        }
        let headers = RDKafkaLazyHeaders(messages: pointers, client: client, registry: registry)
        return RDKafkaMessageReader.records(from: pointers, headerSource: headers)
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
        return RDKafkaMessageBatch(messages: kept, client: client, registry: registry, generation: generation)
    }
}
