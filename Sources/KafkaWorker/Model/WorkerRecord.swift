public import KafkaClient

/// A record handed to a handler: the Kafka record, its decoded value, and which attempt this is.
public struct WorkerRecord<Value: Sendable>: Sendable {
    /// The record as read from Kafka.
    public let record: KafkaRecord
    /// The decoded value.
    public let value: Value
    /// 1 for the first attempt, 2 for the first retry, and so on.
    public let attempt: Int

    public init(record: KafkaRecord, value: Value, attempt: Int) {
        self.record = record
        self.value = value
        self.attempt = attempt
    }

    public var topic: String { record.topic }
    public var partition: Int32 { record.partition }
    public var offset: Int64 { record.offset }
    public var key: KafkaBytes? { record.key }
    public var headers: [KafkaHeader] { record.headers }
    public var timestamp: KafkaTimestamp? { record.timestamp }
    /// The key as UTF-8 text, if any.
    public var keyString: String? { record.key.map { String(decoding: $0, as: UTF8.self) } }
}
