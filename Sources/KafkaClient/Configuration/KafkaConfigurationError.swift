/// A configuration value was rejected at construction.
///
/// `key` names the librdkafka property (or the framework's own key), `message` says what is accepted.
/// Values of secret keys are never included.
public struct KafkaConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The property that was rejected, e.g. `session.timeout.ms`.
    public var key: String
    /// What was wrong and what is accepted.
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "invalid configuration \"\(key)\": \(message)" }
}
