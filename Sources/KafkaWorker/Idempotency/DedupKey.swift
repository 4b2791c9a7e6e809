import KafkaClient

/// Which value identifies a message, so that a second copy of it is recognised. Choose it explicitly:
///
/// - ``recordKey``: the Kafka record key (producers that key by order id, payment id…);
/// - ``header(_:)``: a header such as `idempotency-key` or `message-id`;
/// - ``field(_:_:)``: a field of the decoded value (`.field("orderID") { $0.orderID }`);
/// - ``topicPartitionOffset``: the record's position. This only protects against *redelivery* (the same
///   record read again after a failed commit or a rebalance); a producer retry or a dead-letter replay lands at
///   a new offset and is not recognised.
///
/// A record without the chosen key (no record key, no such header, the field is `nil` or empty) cannot be
/// deduplicated: it is dead-lettered with that reason, never processed unprotected.
public struct DedupKey<Value: Sendable>: Sendable, CustomStringConvertible {
    let name: String
    let extract: @Sendable (WorkerRecord<Value>) -> String?

    /// The Kafka record key, as UTF-8 text.
    public static var recordKey: DedupKey {
        DedupKey(name: "record key") { $0.key.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// The value of the header `name` (the first one, if repeated), as UTF-8 text.
    public static func header(_ name: String) -> DedupKey {
        DedupKey(name: "header \"\(name)\"") { record in
            record.headers.first { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// A field of the decoded value. `name` appears in errors.
    public static func field(_ name: String, _ extract: @escaping @Sendable (Value) -> String?) -> DedupKey {
        DedupKey(name: "field \"\(name)\"") { extract($0.value) }
    }

    /// `topic/partition/offset`: protects against redelivery only (see the type's documentation).
    public static var topicPartitionOffset: DedupKey {
        DedupKey(name: "topic/partition/offset") { "\($0.topic)/\($0.partition)/\($0.offset)" }
    }

    public var description: String { name }

    /// The key of `record`, or a ``MissingDedupKey`` error (not retriable).
    public func value(of record: WorkerRecord<Value>) throws(MissingDedupKey) -> String { try key(of: record) }

    /// The key of `record`, or a ``MissingDedupKey`` error (not retriable: the record is dead-lettered).
    func key(of record: WorkerRecord<Value>) throws(MissingDedupKey) -> String {
        guard let key = extract(record), !key.isEmpty else { throw MissingDedupKey(source: name) }
        return key
    }
}

/// A record has no value for the configured ``DedupKey``: it cannot be deduplicated, so it is dead-lettered.
public struct MissingDedupKey: NonRetriable, CustomStringConvertible {
    public var source: String
    public var description: String { "the record has no \(source) to deduplicate it by" }
}
