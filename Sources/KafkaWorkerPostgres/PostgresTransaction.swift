public import PostgresNIO
import Synchronization

/// The transaction a handler writes through: the same connection and transaction as the record's marker.
///
/// ``query(_:)`` runs a statement with the store's statement timeout, fails at once with a
/// `TransientStoreError` when the connection closes (a server restart), and turns a constraint violation into
/// ``PostgresConstraintViolation``. Valid only while the handler runs.
///
/// A statement that fails fails the transaction, even when the handler catches its error: after any error
/// PostgreSQL aborts the transaction and would answer COMMIT with ROLLBACK. The store then rolls back and throws the
/// first such error (so a constraint violation the handler swallowed still dead-letters the record). To recover
/// from an expected error inside the transaction, use a `SAVEPOINT` on ``connection``; a transaction left aborted
/// there is still caught at COMMIT (a ``PostgresStoreError`` with SQLSTATE 25P02).
public struct PostgresTransaction: Sendable {
    /// The raw connection, for what ``query(_:)`` does not cover. Statements on it are not bounded: after a server
    /// restart, postgres-nio 1.33 was seen to leave a statement on a dropped connection pending forever.
    public let connection: PostgresConnection
    let store: PostgresIdempotencyStore
    private let failures = FirstFailure()

    init(connection: PostgresConnection, store: PostgresIdempotencyStore) {
        self.connection = connection
        self.store = store
    }

    /// The first error a statement through ``query(_:)`` failed with (classified), if any.
    var failure: (any Error)? { failures.first }

    /// Runs `query` and returns all its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await store.bounded("a handler statement", on: connection) { connection, logger in
                var rows: [PostgresRow] = []
                for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
                return rows
            }
        } catch {
            let classified = PostgresErrorClassifier.classify(error)
            failures.record(classified)
            throw classified
        }
    }
}

/// Keeps the first error recorded.
private final class FirstFailure: Sendable {
    private let error = Mutex<(any Error)?>(nil)
    var first: (any Error)? { error.withLock { $0 } }
    func record(_ failure: any Error) { error.withLock { if $0 == nil { $0 = failure } } }
}
