internal import Crdkafka

/// An error reported by librdkafka or by this client.
///
/// `code` is open (a struct with named constants), so new librdkafka codes never break a `switch`.
/// `message` says what happened and, where it helps, what to do; it never contains payloads or secrets.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The librdkafka error code (`rd_kafka_resp_err_t`). Negative values are client-side codes.
    public var code: Code
    /// What the client was doing when the error happened, e.g. `"commit"`.
    public var operation: String
    /// A readable explanation, without payloads or secrets.
    public var message: String
    /// Retrying the same operation may succeed.
    public var isRetriable: Bool
    /// The client instance is unusable; it must be closed and re-created.
    public var isFatal: Bool

    public init(code: Code, operation: String, message: String, isRetriable: Bool = false, isFatal: Bool = false) {
        self.code = code
        self.operation = operation
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    /// The librdkafka name of the code, such as `_TRANSPORT` or `NOT_COORDINATOR`.
    public var name: String { code.name }

    public var description: String {
        "KafkaError(\(name), \(operation)): \(message)"
    }
}

extension KafkaError {
    /// An error from a bare librdkafka return code.
    init(rdCode: rd_kafka_resp_err_t, operation: String, message: String? = nil) {
        let code = Code(rawValue: rdCode.rawValue)
        self.init(
            code: code,
            operation: operation,
            message: message ?? code.explanation,
            isRetriable: code.isRetriableByDefault
        )
    }

    /// An error from an `rd_kafka_error_t`, which carries its own retriable/fatal flags. Destroys `error`.
    init(consuming error: OpaquePointer, operation: String) {
        defer { rd_kafka_error_destroy(error) }
        let code = Code(rawValue: rd_kafka_error_code(error).rawValue)
        let text = rd_kafka_error_string(error).map { String(cString: $0) } ?? code.explanation
        self.init(
            code: code,
            operation: operation,
            message: text,
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isFatal: rd_kafka_error_is_fatal(error) != 0
        )
    }

    /// Throws when `rdCode` is not `NO_ERROR`.
    static func check(_ rdCode: rd_kafka_resp_err_t, operation: String) throws(KafkaError) {
        if rdCode != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdCode: rdCode, operation: operation)
        }
    }
}
