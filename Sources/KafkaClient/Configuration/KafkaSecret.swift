/// A secret configuration value (a password, a private key). Its `description` never shows the value.
public struct KafkaSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    ExpressibleByStringLiteral
{
    /// The secret itself. Read it only to hand it to librdkafka.
    public let value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    public var description: String { "[REDACTED]" }
    public var debugDescription: String { "[REDACTED]" }
}
