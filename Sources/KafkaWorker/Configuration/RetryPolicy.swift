import KafkaClient

/// Retries with exponential backoff and jitter. A retried record keeps its place: later records of its
/// partition (or key) wait.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included (default 3). 1 means no retry. Range 1...1000.
    public var maxAttempts: Int = 3
    /// Delay before the second attempt (default 100 ms); doubled for each further attempt.
    public var initialBackoff: Duration = .milliseconds(100)
    /// Longest delay between attempts (default 10 s).
    public var maxBackoff: Duration = .seconds(10)
    /// Random spread around each delay, as a fraction (default 0.2: ±20 %). Range 0...1.
    public var jitter: Double = 0.2

    public init(maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(10),
                jitter: Double = 0.2) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.jitter = jitter
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failed (`attempt` ≥ 1), without jitter.
    public func baseDelay(afterAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 62)
        let factor = Double(Int64(1) << doublings)
        let seconds = min(initialBackoff.seconds * factor, maxBackoff.seconds)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// The delay with jitter applied, `unit` being a random number in 0..<1.
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        let base = baseDelay(afterAttempt: attempt).seconds
        let spread = base * jitter * (2 * unit - 1)
        return .nanoseconds(Int64(max(0, base + spread) * 1e9))
    }

    func validate() throws(KafkaConfigurationError) {
        try WorkerConfiguration.check("retry.maxAttempts", maxAttempts, 1...1_000)
        try WorkerConfiguration.check("retry.initialBackoff", initialBackoff, .zero ... .seconds(3600))
        try WorkerConfiguration.check("retry.maxBackoff", maxBackoff, initialBackoff ... .seconds(3600))
        guard (0...1).contains(jitter) else {
            throw KafkaConfigurationError(key: "retry.jitter", message: "\(jitter) is outside the accepted range 0...1")
        }
    }
}

