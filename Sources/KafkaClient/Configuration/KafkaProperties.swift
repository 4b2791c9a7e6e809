/// librdkafka properties being assembled from a typed configuration, with range checks that name the key.
struct KafkaProperties: Sendable {
    private(set) var values: [String: String] = [:]

    subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// Sets a duration property in milliseconds after checking its range.
    mutating func set(_ key: String, _ duration: Duration, in range: ClosedRange<Int64>)
        throws(KafkaConfigurationError)
    {
        values[key] = String(try Self.check(key, duration, in: range))
    }

    /// Sets an integer property after checking its range.
    mutating func set(_ key: String, _ value: Int, in range: ClosedRange<Int>) throws(KafkaConfigurationError) {
        values[key] = String(try Self.check(key, value, in: range))
    }

    /// Checks a duration setting (of librdkafka or of the framework); returns it in milliseconds.
    @discardableResult
    static func check(_ key: String, _ duration: Duration, in range: ClosedRange<Int64>)
        throws(KafkaConfigurationError) -> Int64
    {
        let ms = duration.wholeMilliseconds
        guard range.contains(ms) else {
            throw KafkaConfigurationError(
                key: key,
                message: "\(ms) ms is outside the accepted range \(range.lowerBound)...\(range.upperBound) ms")
        }
        return ms
    }

    /// Checks an integer setting (of librdkafka or of the framework).
    @discardableResult
    static func check(_ key: String, _ value: Int, in range: ClosedRange<Int>) throws(KafkaConfigurationError) -> Int {
        guard range.contains(value) else {
            throw KafkaConfigurationError(
                key: key, message: "\(value) is outside the accepted range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// Keys whose values are secrets: never logged, never echoed in errors.
    static func isSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return lowered.contains("password") || lowered.contains("secret") || lowered.contains("ssl.key.pem")
            || lowered.contains("ssl_key") || lowered.contains("sasl.oauthbearer.config")
            || lowered.contains("keystore") || lowered.contains("token")
    }

    /// The secret values, so that text from librdkafka can be scrubbed of them.
    var secretValues: [String] {
        values.compactMap { key, value in Self.isSecret(key) && !value.isEmpty ? value : nil }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for rates and log lines across the package).
    package var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds (truncating).
    package var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// Replaces every secret in `text` with `[REDACTED]`.
func scrub(_ text: String, secrets: [String]) -> String {
    var result = text
    for secret in secrets where result.contains(secret) {
        result = result.replacing(secret, with: "[REDACTED]")
    }
    return result
}
