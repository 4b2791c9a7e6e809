import Foundation
public import KafkaClient

/// Turns a record into the value a handler works with. Throw ``DecodingFailure`` (or any ``NonRetriable``)
/// for input that can never be decoded: such records are dead-lettered without retries.
public protocol RecordDecoder<Value>: Sendable {
    associatedtype Value: Sendable
    func decode(_ record: KafkaRecord) throws -> Value
}

/// Decodes the value as JSON (the default). A null or empty value, invalid UTF-8 or invalid JSON is a
/// ``DecodingFailure``.
public struct JSONRecordDecoder<Value: Decodable & Sendable>: RecordDecoder {
    public init() {}

    public func decode(_ record: KafkaRecord) throws -> Value {
        guard let bytes = record.value, !bytes.isEmpty else {
            throw DecodingFailure(reason: record.value == nil ? "the value is null" : "the value is empty")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw DecodingFailure(reason: Self.describe(error))
        } catch {
            throw DecodingFailure(reason: "invalid JSON")
        }
    }

    /// Says what was wrong and where, never the values themselves.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return joined.isEmpty ? "the top level" : joined
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type) at \(path(context))"
        case .valueNotFound(let type, let context): return "missing \(type) value at \(path(context))"
        case .keyNotFound(let key, let context): return "missing key \"\(key.stringValue)\" at \(path(context))"
        case .dataCorrupted(let context): return "invalid JSON at \(path(context))"
        @unknown default: return "invalid JSON"
        }
    }
}

/// Hands the raw record to the handler (no decoding, no failure).
public struct RawRecordDecoder: RecordDecoder {
    public init() {}
    public func decode(_ record: KafkaRecord) throws -> KafkaRecord { record }
}

/// Decodes the value as UTF-8 text. A null value or invalid UTF-8 is a ``DecodingFailure``.
public struct StringRecordDecoder: RecordDecoder {
    public init() {}
    public func decode(_ record: KafkaRecord) throws -> String {
        guard let bytes = record.value else { throw DecodingFailure(reason: "the value is null") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DecodingFailure(reason: "the value is not valid UTF-8")
        }
        return text
    }
}
