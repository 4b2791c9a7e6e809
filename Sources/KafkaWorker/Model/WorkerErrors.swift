/// Marks an error as not worth retrying: the record goes straight to the dead-letter topic.
/// Throw ``NonRetriableError`` or conform your own error type.
public protocol NonRetriable: Error {}

/// An error a handler throws to say "retrying will not help" (a business rule rejected the record).
public struct NonRetriableError: NonRetriable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The record's value could not be decoded. Never retried.
public struct DecodingFailure: NonRetriable, CustomStringConvertible {
    /// Why, without the payload.
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "cannot decode the record: \(reason)" }
}

/// A handler ran past the watchdog deadline and was cancelled (``WatchdogAction/cancelAndRetry``).
public struct HandlerDeadlineExceeded: Error, CustomStringConvertible {
    public var deadline: Duration
    public var description: String { "the handler ran longer than the watchdog deadline of \(deadline)" }
}

extension Error {
    /// Whether a retry may help.
    var isRetriable: Bool { !(self is any NonRetriable) }

    /// A dependency is down or busy: retried for as long as it takes, never dead-lettered.
    var retriesWithoutLimit: Bool { self is any TransientDependencyError }

    /// The error's type name, for the `dlq.error.type` header and metrics.
    var typeName: String { String(reflecting: type(of: self)) }
}
