import KafkaClient
import Logging

/// Sends each event to the event stream (newest 4,096 kept when nobody reads) and to the log.
struct WorkerEventSink: Sendable {
    let stream: AsyncStream<WorkerEvent>
    private let continuation: AsyncStream<WorkerEvent>.Continuation
    private let logger: Logger

    init(logger: Logger) {
        (stream, continuation) = AsyncStream.makeStream(of: WorkerEvent.self, bufferingPolicy: .bufferingNewest(4_096))
        self.logger = logger
    }

    func emit(_ event: WorkerEvent) {
        continuation.yield(event)
        var metadata: Logger.Metadata = [LogKey.event: "\(event.kind)"]
        if !event.partitions.isEmpty { metadata[LogKey.partitions] = "\(event.partitions)" }
        if !event.offsets.isEmpty { metadata[LogKey.offsets] = "\(event.offsets)" }
        if let record = event.record {
            metadata[LogKey.topic] = "\(record.topic)"
            metadata[LogKey.partition] = "\(record.partition)"
            metadata[LogKey.offset] = "\(record.offset)"
        }
        if let attempts = event.attempts { metadata[LogKey.attempts] = "\(attempts)" }
        if let delay = event.delay { metadata[LogKey.delayMilliseconds] = "\(Int(delay.seconds * 1000))" }
        if let error = event.error { metadata[LogKey.error] = "\(error)" }
        logger.log(level: Self.level(event), "\(event.message ?? event.kind.rawValue)", metadata: metadata)
    }

    func finish() { continuation.finish() }

    private static func level(_ event: WorkerEvent) -> Logger.Level {
        switch event.kind {
        case .crashed: .critical
        case .deadLetterFailed, .watchdog, .lost: .error
        case .deadLettered, .lockLost: .warning
        case .duplicateSkipped: .debug
        case .markersCleaned: event.error == nil ? .debug : .warning
        case .committed: event.error == nil ? .debug : .warning
        case .retrying: .info
        default: .info
        }
    }
}

/// The metadata keys of the worker's log lines, in one place.
enum LogKey {
    static let event = "event"
    static let group = "group"
    static let topic = "topic"
    static let partition = "partition"
    static let partitions = "partitions"
    static let offset = "offset"
    static let offsets = "offsets"
    static let attempts = "attempts"
    static let delayMilliseconds = "delay_ms"
    static let error = "error"
    static let processed = "processed"
    static let failed = "failed"
    static let retried = "retried"
    static let deadLettered = "dead_lettered"
    static let duplicates = "duplicates_skipped"
    static let throughput = "throughput"
    static let errorRate = "error_rate"
    static let inFlight = "in_flight"
}
