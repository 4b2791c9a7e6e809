public import PostgresNIO

/// The transaction a handler writes through: the same connection and transaction as the record's marker.
///
/// ``query(_:)`` runs a statement with the store's statement timeout, fails at once with a
/// `TransientStoreError` when the connection closes (a server restart), and turns a constraint violation into
/// ``PostgresConstraintViolation``. Valid only while the handler runs.
public struct PostgresTransaction: Sendable {
    /// The raw connection, for what ``query(_:)`` does not cover. Statements on it are not bounded: after a server
    /// restart, postgres-nio 1.33 was seen to leave a statement on a dropped connection pending forever.
    public let connection: PostgresConnection
    let store: PostgresIdempotencyStore

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
            throw PostgresErrorClassifier.classify(error)
        }
    }
}
