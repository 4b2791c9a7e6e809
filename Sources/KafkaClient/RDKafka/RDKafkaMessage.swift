internal import Crdkafka

/// Turns consumed `rd_kafka_message_t`s into ``KafkaRecord``s sharing one ``KafkaRecordBlock``: one buffer
/// for all keys and values, copied in one pass, so a batch costs a few allocations instead of two per record.
/// Headers are parsed on first use (``RDKafkaLazyHeaders``).
enum RDKafkaMessageReader {
    /// Records of `messages`. With a `headerSource` the records' headers are parsed from it on first use,
    /// else they are left out.
    static func records(from messages: some Collection<UnsafeMutablePointer<rd_kafka_message_t>>,
                        headerSource: RDKafkaLazyHeaders?) -> [KafkaRecord] {
        var size = 0
        for message in messages {
            if message.pointee.key != nil { size += message.pointee.key_len }
            if message.pointee.payload != nil { size += message.pointee.len }
        }
        var topics: [String] = []
        var topicHandles: [OpaquePointer?] = []
        var slots: [KafkaRecordBlock.Slot] = []
        slots.reserveCapacity(messages.count)
        let storage = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var end = 0
            func copy(_ pointer: UnsafeRawPointer?, _ count: Int) -> Range<Int>? {
                guard let pointer else { return nil }
                if count > 0 {
                    UnsafeMutableRawPointer(buffer.baseAddress! + end).copyMemory(from: pointer, byteCount: count)
                }
                defer { end += count }
                return end..<end + count
            }
            for message in messages {
                let msg = message.pointee
                let topic: Int
                if let known = topicHandles.lastIndex(where: { $0 == msg.rkt }) {
                    topic = known
                } else {
                    topic = topics.count
                    topicHandles.append(msg.rkt)
                    topics.append(String(cString: rd_kafka_topic_name(msg.rkt)))
                }
                slots.append(KafkaRecordBlock.Slot(
                    topic: topic, key: copy(msg.key, msg.key_len), value: copy(msg.payload, msg.len),
                    headers: headerSource == nil ? [] : nil))
            }
            initialized = end
        }
        let block = KafkaRecordBlock(topics: topics, slots: slots, storage: storage, headerSource: headerSource)
        var records: [KafkaRecord] = []
        records.reserveCapacity(messages.count)
        for (slot, message) in messages.enumerated() {
            records.append(KafkaRecord(block: block, slot: slot, partition: message.pointee.partition,
                                       offset: message.pointee.offset, timestamp: KafkaTimestamp(message: message)))
        }
        return records
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
