import KafkaWorker
import Synchronization

/// The transaction a handler writes through: statements run in the same SQLite transaction as the record's
/// processed-marker (inside the record's savepoint of its group's transaction) and commit with it. Valid only
/// while the handler runs.
public final class SQLiteTransaction: Sendable {
    private let store: SQLiteIdempotencyStore
    private let open = Mutex(true)

    init(store: SQLiteIdempotencyStore) { self.store = store }

    func close() { open.withLock { $0 = false } }

    /// Runs `sql` with `?` parameters; returns the rows it produced. A constraint violation is thrown as
    /// ``SQLiteConstraintViolation`` (not retriable, and never taken for a duplicate).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLiteValue] = []) async throws -> [[SQLiteValue]] {
        try await store.perform { connection in
            // Checked on the store's queue, so a statement never runs in a later record's savepoint.
            guard self.open.withLock({ $0 }) else {
                throw NonRetriableError("an SQLiteTransaction was used after its handler returned")
            }
            // SQLite rolls a whole transaction back on some errors (I/O, full disk); a statement after that would
            // commit on its own, without the marker.
            guard !connection.isAutocommit else { throw SQLiteIdempotencyStore.lostTransaction }
            return try connection.execute(sql, parameters)
        }
    }
}
