/// A partition of a topic.
public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// An offset of a partition. For commits and stores it is the *next* offset to read (last finished + 1).
public struct KafkaTopicPartitionOffset: Sendable, Hashable, CustomStringConvertible {
    public var topicPartition: KafkaTopicPartition
    /// A real offset (≥ 0) or one of the ``KafkaOffset`` sentinels.
    public var offset: Int64
    /// Text committed with the offset (the broker keeps it beside the offset, up to its
    /// `offset.metadata.max.bytes`, 4,096 by default), and read back with committed offsets.
    public var metadata: String?

    public init(topic: String, partition: Int32, offset: Int64, metadata: String? = nil) {
        self.topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        self.offset = offset
        self.metadata = metadata
    }

    public init(_ topicPartition: KafkaTopicPartition, offset: Int64, metadata: String? = nil) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.metadata = metadata
    }

    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }

    public var description: String { "\(topicPartition)@\(KafkaOffset.describe(offset))" }
}

/// Sentinel offsets understood by librdkafka.
public enum KafkaOffset {
    /// The oldest retained offset.
    public static let beginning: Int64 = -2
    /// The end of the partition (the next offset to be written).
    public static let end: Int64 = -1
    /// The committed offset of the group.
    public static let stored: Int64 = -1000
    /// No offset (e.g. nothing committed yet).
    public static let invalid: Int64 = -1001

    static func describe(_ offset: Int64) -> String {
        switch offset {
        case beginning: "beginning"
        case end: "end"
        case stored: "stored"
        case invalid: "none"
        default: String(offset)
        }
    }
}

/// The low and high watermarks of a partition: the oldest retained offset and the next offset to be written.
public struct KafkaWatermarks: Sendable, Hashable, CustomStringConvertible {
    public var low: Int64
    public var high: Int64

    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }

    public var description: String { "[\(low), \(high))" }
}
