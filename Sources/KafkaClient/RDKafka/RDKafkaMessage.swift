internal import Crdkafka

/// Converts consumed `rd_kafka_message_t`s into ``KafkaRecord``s, remembering topic names by handle.
struct RDKafkaMessageReader {
    private var lastTopicHandle: OpaquePointer?
    private var lastTopicName = ""
    /// `false` leaves headers out (``KafkaConsumerConfiguration/Fetch/readHeaders``).
    let readHeaders: Bool

    init(readHeaders: Bool = true) { self.readHeaders = readHeaders }

    mutating func record(from message: UnsafePointer<rd_kafka_message_t>) -> KafkaRecord {
        let msg = message.pointee
        if msg.rkt != lastTopicHandle {
            lastTopicHandle = msg.rkt
            lastTopicName = String(cString: rd_kafka_topic_name(msg.rkt))
        }
        return KafkaRecord(
            topic: lastTopicName,
            partition: msg.partition,
            offset: msg.offset,
            key: Self.bytes(msg.key, msg.key_len),
            value: Self.bytes(msg.payload, msg.len),
            headers: readHeaders ? Self.headers(of: message) : [],
            timestamp: KafkaTimestamp(message: message))
    }

    static func bytes(_ pointer: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    static func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
        bytes(UnsafeRawPointer(pointer), count)
    }

    private static func headers(of message: UnsafePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            result.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes(value, size)))
            index += 1
        }
        return result
    }
}

extension KafkaTimestamp {
    init?(message: UnsafePointer<rd_kafka_message_t>) {
        var kind = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ms = rd_kafka_message_timestamp(message, &kind)
        switch kind {
        case RD_KAFKA_TIMESTAMP_CREATE_TIME: self.init(kind: .createTime, milliseconds: ms)
        case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME: self.init(kind: .logAppendTime, milliseconds: ms)
        default: return nil
        }
    }
}
