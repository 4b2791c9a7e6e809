public import KafkaClient

/// Where records go when they cannot be handled: a dead-letter topic, with the original key, value and
/// headers plus headers saying where the record came from and why it failed.
public struct DeadLetterConfiguration: Sendable {
    /// Dead-lettering on (default). When off, a record that keeps failing blocks its partition (or key) and is
    /// retried with the maximum backoff until it succeeds: nothing is ever skipped.
    public var enabled = true
    /// The dead-letter topic of a topic (default `<topic>.dlq`).
    public var topicName: @Sendable (String) -> String = { "\($0).dlq" }
    /// Try to create missing dead-letter topics at start-up (default `true`); where the cluster refuses,
    /// the worker relies on the broker creating topics on first use.
    public var createTopics = true
    /// Partitions of a dead-letter topic the worker creates (default 1).
    public var partitions = 1
    /// Longest error message kept in the `dlq.error.message` header, in bytes (default 1,024).
    public var maxErrorMessageBytes = 1_024
    /// Producer settings for dead letters; `nil` derives them from the consumer's connection.
    public var producer: KafkaProducerConfiguration?

    public init() {}

    func validate() throws(KafkaConfigurationError) {
        try WorkerConfiguration.check("deadLetter.partitions", partitions, 1...10_000)
        try WorkerConfiguration.check("deadLetter.maxErrorMessageBytes", maxErrorMessageBytes, 16...1_048_576)
        try producer?.validate()
    }
}

/// What to do when a record has been running longer than its deadline. Open: more actions may be added.
public struct WatchdogAction: Sendable, Hashable, CustomStringConvertible {
    let rawValue: String
    /// Report it (event, counter, log line) and keep waiting.
    public static let report = WatchdogAction(rawValue: "report")
    /// Report it, cancel the handler, and treat the attempt as a retriable failure. The handler must honour
    /// cancellation (Swift cannot stop code that ignores it); each record then runs in a child task, which
    /// costs some throughput.
    public static let cancelAndRetry = WatchdogAction(rawValue: "cancel-and-retry")
    public var description: String { rawValue }
}

/// The hung-handler watchdog. librdkafka 2.0.2 resets `max.poll.interval.ms` on any poll, so it never sees a
/// hung handler; the worker watches every record itself.
public struct WatchdogConfiguration: Sendable, Hashable {
    /// A record running longer than this is reported (default 60 s).
    public var deadline: Duration = .seconds(60)
    /// What happens then (default `.report`).
    public var action: WatchdogAction = .report

    public init(deadline: Duration = .seconds(60), action: WatchdogAction = .report) {
        self.deadline = deadline
        self.action = action
    }

    func validate() throws(KafkaConfigurationError) {
        try WorkerConfiguration.check("watchdog.deadline", deadline, .milliseconds(10) ... .seconds(86_400))
    }
}
