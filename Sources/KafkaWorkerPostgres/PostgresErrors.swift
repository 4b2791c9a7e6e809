public import KafkaWorker
import PostgresNIO
import _ConnectionPoolModule

/// A constraint of the handler's own tables failed (SQLSTATE class 23): a business rule, not a duplicate.
/// Not retriable: the record goes to the dead-letter topic.
public struct PostgresConstraintViolation: NonRetriable, CustomStringConvertible {
    public var sqlState: String
    /// The violated constraint, when the server named it.
    public var constraint: String?
    public var message: String
    public var description: String {
        "constraint violation (SQLSTATE \(sqlState)\(constraint.map { ", constraint \($0)" } ?? "")): \(message)"
    }
}

/// Another error the server reported. Retried with the worker's retry policy, then dead-lettered.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var sqlState: String
    public var message: String
    public var description: String { "PostgreSQL error (SQLSTATE \(sqlState)): \(message)" }
}

enum PostgresErrorClassifier {
    /// SQLSTATEs that go away by themselves: serialization failure, deadlock, statement timeout (also
    /// lock timeout, which PostgreSQL reports as 55P03), query cancelled, admin/crash shutdown, cannot connect now,
    /// too many connections, and the whole connection-exception class 08.
    static let transientStates: Set<String> = ["40001", "40P01", "57014", "55P03", "57P01", "57P02", "57P03", "53300"]

    /// Maps errors of PostgresNIO and its pool to ours, without query text, binds or connection settings.
    /// Errors that are not PostgreSQL's (the handler's own) pass through unchanged.
    static func classify(_ error: any Error) -> any Error {
        if error is ConnectionPoolError {
            return TransientStoreError(reason: "no PostgreSQL connection (\(error))")
        }
        guard let error = error as? PSQLError else { return error }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?"
            let message = error.serverInfo?[.message] ?? "no message"
            if transientStates.contains(state) || state.hasPrefix("08") {
                return TransientStoreError(reason: "\(message) (SQLSTATE \(state))")
            }
            if state.hasPrefix("23") {
                return PostgresConstraintViolation(sqlState: state, constraint: error.serverInfo?[.constraintName], message: message)
            }
            return PostgresStoreError(sqlState: state, message: message)
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
             .queryCancelled, .sslUnsupported:
            return TransientStoreError(reason: "PostgreSQL connection failed (\(error.code))")
        default:
            return PostgresStoreError(sqlState: "", message: "\(error.code)")
        }
    }
}
