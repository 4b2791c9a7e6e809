import KafkaClient

/// The row an ``IdempotencyStore`` keeps for a record it has processed: the consumer group, the dedup key, and
/// where the record was (for cleanup, which never removes markers of offsets not yet committed).
public struct ProcessedMarker: Sendable, Hashable, CustomStringConvertible {
    /// The consumer group: two services that process the same ids never dedupe each other.
    public var group: String
    /// The dedup key (see ``DedupKey``).
    public var key: String
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(group: String, key: String, topic: String, partition: Int32, offset: Int64) {
        self.group = group
        self.key = key
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    /// The key is left out: it may be business data.
    public var description: String { "ProcessedMarker(group: \(group), \(topic)[\(partition)]@\(offset))" }
}
