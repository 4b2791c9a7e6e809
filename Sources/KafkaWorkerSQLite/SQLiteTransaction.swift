import KafkaWorker
import Synchronization

/// The transaction a handler writes through: statements run in the same SQLite transaction as the record's
/// processed-marker and commit with it. Valid only while the handler runs.
public final class SQLiteTransaction: Sendable {
    private let store: SQLiteIdempotencyStore
    private let open = Mutex(true)

    init(store: SQLiteIdempotencyStore) { self.store = store }

    func close() { open.withLock { $0 = false } }

    /// Runs `sql` with `?` parameters; returns the rows it produced. A constraint violation is thrown as
    /// ``SQLiteConstraintViolation`` (not retriable, and never taken for a duplicate).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLiteValue] = []) async throws -> [[SQLiteValue]] {
        guard open.withLock({ $0 }) else {
            throw NonRetriableError("an SQLiteTransaction was used after its handler returned")
        }
        return try await store.perform { try $0.execute(sql, parameters) }
    }
}
