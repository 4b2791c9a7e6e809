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
/// Keys are bytes. A key that is valid UTF-8 without NUL is stored as that text; any other key (binary keys
/// such as Avro longs, invalid UTF-8, NUL bytes) is stored as ``DedupKeyEncoding/binaryPrefix`` followed by its bytes in
/// lowercase hex — so two different keys never share a marker, and every key fits a TEXT column. A text key
/// that itself starts with that prefix is stored in the hex form too, so it cannot pass for another key.
///
/// A record without the chosen key (no record key, no such header, the field is `nil` or empty) cannot be
/// deduplicated: it is dead-lettered with that reason, never processed unprotected.
public struct DedupKey<Value: Sendable>: Sendable, CustomStringConvertible {
    let name: String
    let extract: @Sendable (WorkerRecord<Value>) -> String?

    /// The Kafka record key, byte for byte (see the type's documentation for how it is stored).
    public static var recordKey: DedupKey {
        DedupKey(name: "record key") { $0.key.map { DedupKeyEncoding.storedForm(of: $0) } }
    }

    /// The value of the header `name` (the first one, if repeated), byte for byte.
    public static func header(_ name: String) -> DedupKey {
        DedupKey(name: "header \"\(name)\"") { record in
            record.headers.first { $0.name == name }?.value.map { DedupKeyEncoding.storedForm(of: $0) }
        }
    }

    /// A field of the decoded value. `name` appears in errors.
    public static func field(_ name: String, _ extract: @escaping @Sendable (Value) -> String?) -> DedupKey {
        DedupKey(name: "field \"\(name)\"") { record in extract(record.value).map { DedupKeyEncoding.storedForm(of: $0) } }
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

/// How dedup keys are written to a store: one-to-one from bytes to text that fits a TEXT column.
public enum DedupKeyEncoding {
    /// Starts the stored form of a key that is not plain text: U+0001 (never in a real text key) and `hex:`.
    public static var binaryPrefix: String { "\u{1}hex:" }

    /// How a key of these bytes is stored: the text itself when it is valid UTF-8 without NUL and does not
    /// start with ``binaryPrefix``; otherwise ``binaryPrefix`` and the bytes in lowercase hex. One-to-one.
    public static func storedForm(of bytes: some Collection<UInt8>) -> String {
        if !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self), !text.hasPrefix(binaryPrefix) {
            return text
        }
        return hexForm(bytes)
    }

    /// The stored form of a text key (see the byte form).
    public static func storedForm(of text: String) -> String {
        text.utf8.contains(0) || text.hasPrefix(binaryPrefix) ? hexForm(text.utf8) : text
    }

    private static func hexForm(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = Array(binaryPrefix.utf8)
        hex.reserveCapacity(hex.count + bytes.count * 2)
        for byte in bytes {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
