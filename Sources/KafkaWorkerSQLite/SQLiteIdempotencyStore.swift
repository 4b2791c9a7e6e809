import CSQLite
import Dispatch
import Synchronization
public import Foundation
public import KafkaClient
public import KafkaWorker

/// The embedded ``IdempotencyStore``: one SQLite file, in WAL mode, safe to share between processes.
///
/// Every transaction starts with `BEGIN IMMEDIATE` (the write lock is taken up front, so two writers never
/// deadlock upgrading a read lock) and waits up to `busyTimeout` for other processes; a wait longer than that
/// is a ``TransientStoreError`` the worker retries, never a "database is locked" failure. All SQLite calls run
/// on the store's own serial queue, never on Swift's cooperative threads.
///
/// **Group commit.** SQLite has one writer, so the bodies of concurrent ``withMarkers(_:_:)`` calls run one after
/// another; what is shared is the transaction: calls that arrive while one runs join its transaction, each inside
/// a savepoint of its own (a call that throws rolls back only its own marker and writes), and one COMMIT — one
/// fsync — ends the group (at most ``Configuration/maxGroupSize`` calls). Every call returns only after that COMMIT
/// returned; if the COMMIT fails, every call of the group throws and nothing of it is kept. So keep the body short
/// — its statements, not waiting: do slow work (an HTTP call, a computation) before the transaction, in the
/// worker's `prepare` closure, which runs concurrently.
public final class SQLiteIdempotencyStore: IdempotencyStore {
    public struct Configuration: Sendable {
        /// The database file (created if missing).
        public var path: String
        /// The marker table (default `kafka_worker_processed`): letters, digits and `_`, not starting with a digit.
        public var tableName = "kafka_worker_processed"
        /// How long a statement waits for another connection's lock (default 10 s). Range 0 ... 10 min.
        public var busyTimeout: Duration = .seconds(10)
        /// `PRAGMA synchronous` (default `.full`: a returned COMMIT survives a power cut).
        public var synchronous: Synchronous = .full
        /// ``SQLiteIdempotencyStore/withMarkers(_:_:)`` calls per transaction at most (default 100): records for a
        /// per-record handler, batches for a batch handler. Concurrent calls join one transaction — each in a
        /// savepoint of its own, run one after another — and share its COMMIT (one fsync). 1 gives every call a
        /// transaction of its own. Range 1 ... 10000.
        public var maxGroupSize = 100

        public init(path: String) { self.path = path }

        /// `.normal` in WAL mode may lose the last transactions on a power cut (never on a process crash),
        /// so their records are redelivered and applied again.
        public enum Synchronous: String, Sendable { case normal = "NORMAL", full = "FULL" }
    }

    public let configuration: Configuration
    let table: String
    private let queue: DispatchQueue
    private let connection: ConnectionBox
    let group: Mutex<GroupCommitState<CheckedContinuation<Bool, Never>, CheckedContinuation<Bool, any Error>>>
    let counters = Mutex(Statistics())
    private let now: @Sendable () -> Date

    /// - Parameter now: the time markers are recorded at (tests move it to check cleanup).
    public init(configuration: Configuration, now: @escaping @Sendable () -> Date = { Date() }) throws(KafkaConfigurationError) {
        guard Self.isIdentifier(configuration.tableName) else {
            throw KafkaConfigurationError(key: "sqlite.tableName",
                                          message: "\"\(configuration.tableName)\" is not accepted: use letters, digits and _, not starting with a digit")
        }
        guard (Duration.zero ... .seconds(600)).contains(configuration.busyTimeout) else {
            throw KafkaConfigurationError(key: "sqlite.busyTimeout", message: "\(configuration.busyTimeout) is outside 0 s ... 600 s")
        }
        guard (1...10_000).contains(configuration.maxGroupSize) else {
            throw KafkaConfigurationError(key: "sqlite.maxGroupSize", message: "\(configuration.maxGroupSize) is outside 1 ... 10000")
        }
        guard !configuration.path.isEmpty else {
            throw KafkaConfigurationError(key: "sqlite.path", message: "a database file path is required")
        }
        self.configuration = configuration
        self.table = configuration.tableName
        self.queue = DispatchQueue(label: "kafka-worker.sqlite")
        self.connection = ConnectionBox()
        self.group = Mutex(GroupCommitState(limit: configuration.maxGroupSize))
        self.now = now
    }

    /// Opens the file, switches it to WAL, and creates the table and its index if missing.
    public func prepare() async throws {
        try await inGroup {
            try await perform { connection in
                try connection.execute("CREATE TABLE IF NOT EXISTS \(self.table) (consumer_group TEXT NOT NULL, dedup_key TEXT NOT NULL, "
                                       + "topic TEXT NOT NULL, kafka_partition INTEGER NOT NULL, kafka_offset INTEGER NOT NULL, "
                                       + "processed_at INTEGER NOT NULL, PRIMARY KEY (consumer_group, dedup_key)) WITHOUT ROWID")
                try connection.execute("CREATE INDEX IF NOT EXISTS \(self.table)_by_partition ON \(self.table) "
                                       + "(consumer_group, topic, kafka_partition, processed_at)")
            }
        }
    }

    public func withMarkers<Result: Sendable>(
        _ markers: [ProcessedMarker], _ body: (SQLiteTransaction, [Bool]) async throws -> Result
    ) async throws -> Result {
        let recorded = Int64(now().timeIntervalSince1970 * 1000)
        return try await inGroup {
            let fresh = try await perform { connection in try self.insert(markers, at: recorded, on: connection) }
            let transaction = SQLiteTransaction(store: self)
            defer { transaction.close() }
            return try await body(transaction, fresh)
        }
    }

    public func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                              recordedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await inGroup {
            try await perform { connection in
                try connection.execute(
                    "DELETE FROM \(self.table) WHERE (consumer_group, dedup_key) IN (SELECT consumer_group, dedup_key FROM \(self.table) "
                        + "WHERE consumer_group = ? AND topic = ? AND kafka_partition = ? AND kafka_offset < ? AND processed_at < ? LIMIT ?)",
                    [.text(group), .text(partition.topic), .integer(Int64(partition.partition)), .integer(committedOffset),
                     .integer(Int64(cutoff.timeIntervalSince1970 * 1000)), .integer(Int64(limit))])
                return connection.changes
            }
        }
    }

    /// Runs `work` on the store's queue with its connection (opened on first use). SQLite errors come out
    /// classified: busy → ``TransientStoreError``, constraint → ``SQLiteConstraintViolation``.
    func perform<T: Sendable>(_ work: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Swift.Result {
                    do {
                        return try work(try connection.open(self.configuration))
                    } catch let error as SQLiteError {
                        throw Self.classify(error)
                    }
                })
            }
        }
    }

    /// Rolls back; if the transaction is still open afterwards (a ROLLBACK that failed), the connection is
    /// closed and the next transaction opens a fresh one — a connection stuck in a transaction would fail every
    /// later BEGIN.
    func rollback(_ connection: SQLiteConnection) {
        _ = try? connection.execute("ROLLBACK")
        if !connection.isAutocommit { self.connection.drop() }
    }

    /// Closes the connection (which rolls back whatever it had open); the next statement opens a fresh one.
    func dropConnection() { connection.drop() }

    /// Inserts the markers, 500 rows per statement; returns for each whether it was new.
    private func insert(_ markers: [ProcessedMarker], at recorded: Int64, on connection: SQLiteConnection) throws -> [Bool] {
        var inserted = Set<String>()
        var start = 0
        while start < markers.count {
            let chunk = markers[start..<min(start + 500, markers.count)]
            let rows = Array(repeating: "(?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            var parameters: [SQLiteValue] = []
            parameters.reserveCapacity(chunk.count * 6)
            for marker in chunk {
                parameters += [.text(marker.group), .text(marker.key), .text(marker.topic), .integer(Int64(marker.partition)),
                               .integer(marker.offset), .integer(recorded)]
            }
            let returned = try connection.execute(
                "INSERT INTO \(table) (consumer_group, dedup_key, topic, kafka_partition, kafka_offset, processed_at) "
                    + "VALUES \(rows) ON CONFLICT DO NOTHING RETURNING consumer_group, dedup_key", parameters)
            for row in returned { inserted.insert("\(row[0].text ?? "")\u{0}\(row[1].text ?? "")") }
            start += chunk.count
        }
        // A key repeated within `markers` is new only at its first place.
        return markers.map { inserted.remove("\($0.group)\u{0}\($0.key)") != nil }
    }

    static func classify(_ error: SQLiteError) -> any Error {
        if error.isBusy { return TransientStoreError(reason: "the SQLite database stayed busy past the busy timeout (code \(error.code))") }
        if error.isEnvironmental {
            return TransientStoreError(reason: "SQLite cannot write (code \(error.code)): \(error.message); retried")
        }
        if error.isConstraintViolation { return SQLiteConstraintViolation(underlying: error) }
        return error
    }

    /// Whether `name` is accepted as a table name: letters, digits and `_`, not starting with a digit, ≤ 63.
    public static func isValidTableName(_ name: String) -> Bool { isIdentifier(name) }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first), name.count <= 63 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}

/// The store's connection, used only on the store's queue.
private final class ConnectionBox: @unchecked Sendable {
    private var connection: SQLiteConnection?

    func open(_ configuration: SQLiteIdempotencyStore.Configuration) throws(SQLiteError) -> SQLiteConnection {
        if let connection { return connection }
        // Multi-row `INSERT … RETURNING` needs SQLite 3.35.
        guard sqlite3_libversion_number() >= 3_035_000 else {
            throw SQLiteError(code: SQLITE_ERROR, message: "SQLite \(String(cString: sqlite3_libversion())) is too old: 3.35 or newer "
                                  + "is required (INSERT … RETURNING)", operation: "open")
        }
        let opened = try SQLiteConnection(path: configuration.path, busyTimeout: configuration.busyTimeout)
        // WAL lets readers run beside the writer; switching needs a moment of exclusive access (busy timeout applies).
        let mode = try opened.execute("PRAGMA journal_mode=WAL").first?.first?.text
        guard mode?.lowercased() == "wal" else {
            throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode stayed \(mode ?? "unknown") instead of wal", operation: "open")
        }
        try opened.execute("PRAGMA synchronous=\(configuration.synchronous.rawValue)")
        connection = opened
        return opened
    }

    /// Closes the connection (it is reopened on next use).
    func drop() { connection = nil }
}
