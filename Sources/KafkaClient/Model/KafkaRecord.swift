/// A record read from Kafka.
public struct KafkaRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// The key, or `nil` for a null key.
    public var key: [UInt8]?
    /// The value, or `nil` for a null value (a tombstone).
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    public var timestamp: KafkaTimestamp?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]? = nil, value: [UInt8]? = nil,
                headers: [KafkaHeader] = [], timestamp: KafkaTimestamp? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    /// The offset to store or commit once this record is finished: `offset + 1`.
    public var nextOffset: KafkaTopicPartitionOffset {
        KafkaTopicPartitionOffset(topic: topic, partition: partition, offset: offset + 1)
    }

    /// The first header with `name`, if any.
    public func header(_ name: String) -> KafkaHeader? { headers.first { $0.name == name } }
}

/// A record header. Kafka allows repeated names and null values.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    public init(name: String, string: String) {
        self.name = name
        self.value = Array(string.utf8)
    }

    /// The value as UTF-8 text, if it is valid UTF-8.
    public var stringValue: String? {
        value.flatMap { String(validating: $0, as: UTF8.self) }
    }
}

/// A record's timestamp.
public struct KafkaTimestamp: Sendable, Hashable {
    /// Who set the timestamp.
    public struct Kind: Sendable, Hashable {
        let rawValue: Int
        /// Set by the producer.
        public static let createTime = Kind(rawValue: 1)
        /// Set by the broker when it appended the record.
        public static let logAppendTime = Kind(rawValue: 2)
    }

    public var kind: Kind
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    public init(kind: Kind, milliseconds: Int64) {
        self.kind = kind
        self.milliseconds = milliseconds
    }
}
