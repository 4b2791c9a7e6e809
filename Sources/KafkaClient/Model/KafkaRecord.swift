/// A record read from Kafka.
///
/// Records fetched together share one block for their topic names, keys, values and headers, so a record is
/// cheap to copy (one reference) and reading a batch allocates per batch, not per record. Setting a property
/// gives the record a block of its own.
public struct KafkaRecord: Sendable {
    private var block: KafkaRecordBlock
    private var slot: Int
    public var partition: Int32
    public var offset: Int64
    public var timestamp: KafkaTimestamp?

    public init(topic: String, partition: Int32, offset: Int64, key: KafkaBytes? = nil, value: KafkaBytes? = nil,
                headers: [KafkaHeader] = [], timestamp: KafkaTimestamp? = nil) {
        self.block = KafkaRecordBlock(topic: topic, key: key, value: value, headers: headers)
        self.slot = 0
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }

    /// Record `slot` of a fetched batch's block.
    init(block: KafkaRecordBlock, slot: Int, partition: Int32, offset: Int64, timestamp: KafkaTimestamp?) {
        self.block = block
        self.slot = slot
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }

    public var topic: String {
        get { block.topics[block.slots[slot].topic] }
        set { detach(topic: newValue) }
    }

    /// The key, or `nil` for a null key.
    public var key: KafkaBytes? {
        get { block.bytes(block.slots[slot].key) }
        set { detach(key: .some(newValue)) }
    }

    /// The value, or `nil` for a null value (a tombstone).
    public var value: KafkaBytes? {
        get { block.bytes(block.slots[slot].value) }
        set { detach(value: .some(newValue)) }
    }

    /// Bytes of the key and the value (what the record holds in memory, headers aside).
    public var byteCount: Int {
        let slot = block.slots[slot]
        return (slot.key?.count ?? 0) + (slot.value?.count ?? 0)
    }

    public var headers: [KafkaHeader] {
        get { block.headers(slot) }
        set { detach(headers: newValue) }
    }

    /// Moves this record to a block of its own with one part replaced.
    private mutating func detach(topic: String? = nil, key: KafkaBytes?? = nil, value: KafkaBytes?? = nil,
                                 headers: [KafkaHeader]? = nil) {
        block = KafkaRecordBlock(topic: topic ?? self.topic, key: key ?? self.key, value: value ?? self.value,
                                 headers: headers ?? self.headers)
        slot = 0
    }

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    /// The offset to store or commit once this record is finished: `offset + 1`.
    public var nextOffset: KafkaTopicPartitionOffset {
        KafkaTopicPartitionOffset(topic: topic, partition: partition, offset: offset + 1)
    }

    /// The first header with `name`, if any.
    public func header(_ name: String) -> KafkaHeader? { headers.first { $0.name == name } }
}

extension KafkaRecord: Hashable {
    public static func == (lhs: KafkaRecord, rhs: KafkaRecord) -> Bool {
        lhs.partition == rhs.partition && lhs.offset == rhs.offset && lhs.timestamp == rhs.timestamp
            && lhs.topic == rhs.topic && lhs.key == rhs.key && lhs.value == rhs.value && lhs.headers == rhs.headers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(topic)
        hasher.combine(partition)
        hasher.combine(offset)
        hasher.combine(key)
        hasher.combine(value)
        hasher.combine(headers)
        hasher.combine(timestamp)
    }
}

extension KafkaRecord: CustomStringConvertible {
    /// Where the record is and how big it is; never its contents.
    public var description: String {
        "KafkaRecord(\(topic)/\(partition)@\(offset), key: \(key.map { "\($0.count) bytes" } ?? "null"), "
            + "value: \(value.map { "\($0.count) bytes" } ?? "null"), headers: \(headers.count))"
    }
}

/// The shared storage of records fetched together: topic names, one buffer with every key and value, and
/// each record's headers (or where to parse them from on first use). Immutable once built.
final class KafkaRecordBlock: Sendable {
    struct Slot: Sendable {
        /// Index into `topics`.
        var topic: Int
        var key: Range<Int>?
        var value: Range<Int>?
        /// `nil`: ask `headerSource`.
        var headers: [KafkaHeader]?
    }

    let topics: [String]
    let slots: [Slot]
    let storage: [UInt8]
    let headerSource: (any KafkaHeaderSource)?

    init(topics: [String], slots: [Slot], storage: [UInt8], headerSource: (any KafkaHeaderSource)? = nil) {
        self.topics = topics
        self.slots = slots
        self.storage = storage
        self.headerSource = headerSource
    }

    /// A block for one record built by hand.
    convenience init(topic: String, key: KafkaBytes?, value: KafkaBytes?, headers: [KafkaHeader]) {
        var storage: [UInt8] = []
        storage.reserveCapacity((key?.count ?? 0) + (value?.count ?? 0))
        func append(_ bytes: KafkaBytes?) -> Range<Int>? {
            guard let bytes else { return nil }
            let start = storage.count
            storage.append(contentsOf: bytes)
            return start..<storage.count
        }
        let keyRange = append(key)
        let valueRange = append(value)
        self.init(topics: [topic], slots: [Slot(topic: 0, key: keyRange, value: valueRange, headers: headers)],
                  storage: storage)
    }

    deinit {
        headerSource?.blockEnded()
    }

    func bytes(_ range: Range<Int>?) -> KafkaBytes? {
        range.map { KafkaBytes(storage: storage, start: $0.lowerBound, count: $0.count) }
    }

    func headers(_ slot: Int) -> [KafkaHeader] {
        slots[slot].headers ?? headerSource?.headers(at: slot) ?? []
    }
}

/// Parses a block's headers on first use (``RDKafkaLazyHeaders``).
protocol KafkaHeaderSource: AnyObject, Sendable {
    func headers(at slot: Int) -> [KafkaHeader]
    /// The block's records are all gone: nobody will ask again.
    func blockEnded()
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
