/// A record to produce.
public struct KafkaProducerRecord: Sendable, Hashable {
    public var topic: String
    /// The partition, or `nil` to let the partitioner choose (by key hash; random for null keys).
    public var partition: Int32?
    public var key: KafkaBytes?
    public var value: KafkaBytes?
    public var headers: [KafkaHeader]
    /// Create time in milliseconds since 1970, or `nil` for "now".
    public var timestampMilliseconds: Int64?

    public init(topic: String, partition: Int32? = nil, key: KafkaBytes? = nil, value: KafkaBytes? = nil,
                headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// A record with UTF-8 text key and value.
    public init(topic: String, partition: Int32? = nil, key: String?, value: String?,
                headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil) {
        self.init(topic: topic, partition: partition, key: key.map(KafkaBytes.init(utf8:)),
                  value: value.map(KafkaBytes.init(utf8:)), headers: headers, timestampMilliseconds: timestampMilliseconds)
    }
}

/// Where a produced record landed.
public struct KafkaDeliveryReport: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: KafkaTimestamp?

    public init(topic: String, partition: Int32, offset: Int64, timestamp: KafkaTimestamp?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }
}
