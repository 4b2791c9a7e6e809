import CSQLite
public import KafkaWorker

/// An error SQLite returned. A constraint violation (a business rule of the handler's tables) is not retriable:
/// the record goes to the dead-letter topic. Busy and locked are never surfaced as this error: the store waits
/// (busy timeout) and then reports a ``TransientStoreError``, which the worker retries.
public struct SQLiteError: Error, CustomStringConvertible {
    /// The extended result code (`sqlite3_extended_errcode`).
    public var code: Int32
    public var message: String
    /// What was being done (`open`, `prepare`, `step`…).
    public var operation: String

    public var description: String { "SQLite \(operation) failed (code \(code)): \(message)" }

    /// A UNIQUE, PRIMARY KEY, CHECK, NOT NULL or FOREIGN KEY constraint failed.
    public var isConstraintViolation: Bool { code & 0xFF == SQLITE_CONSTRAINT }
    /// The database was busy or locked by another connection.
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
    /// The environment failed, not the record: disk full, I/O error, read-only or unopenable file, out of memory.
    /// Retried (a record must not be dead-lettered because a disk filled up).
    var isEnvironmental: Bool {
        [SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_NOMEM, SQLITE_PROTOCOL, SQLITE_NOLFS]
            .contains(code & 0xFF)
    }
}

/// A constraint of the handler's own tables failed: not a duplicate, not retriable (dead-lettered).
public struct SQLiteConstraintViolation: NonRetriable, CustomStringConvertible {
    public var underlying: SQLiteError
    public var description: String { underlying.description }
}
