/// A RESP2 reply from Redis.
public enum RESPValue: Sendable, Hashable, CustomStringConvertible {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// `nil` for the null bulk string.
    case bulkString([UInt8]?)
    /// `nil` for the null array.
    case array([RESPValue]?)

    /// The value as text (simple or bulk string).
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }

    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// Replies are described by shape only; their contents may be tokens or data.
    public var description: String {
        switch self {
        case .simpleString: "simple string"
        case .error(let message): "error \(message.split(separator: " ").first ?? "")"
        case .integer(let value): "integer \(value)"
        case .bulkString(let bytes): bytes == nil ? "null" : "bulk string"
        case .array(let values): values.map { "array of \($0.count)" } ?? "null array"
        }
    }
}
