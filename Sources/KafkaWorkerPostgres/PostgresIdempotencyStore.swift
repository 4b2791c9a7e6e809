public import Foundation
public import KafkaClient
public import KafkaWorker
public import Logging
public import PostgresNIO
import Synchronization

/// An ``IdempotencyStore`` on PostgreSQL through a postgres-nio `PostgresClient` (its connection pool).
///
/// Each transaction (READ COMMITTED) starts with one `INSERT … ON CONFLICT (consumer_group, dedup_key) DO
/// NOTHING RETURNING dedup_key` for all its markers; the handler receives the same connection for its own
/// writes; then COMMIT. A second worker inserting the same key waits on the first one's row lock and then sees a
/// duplicate. An error is thrown (and no offset stored) whenever COMMIT did not return; the record comes back
/// and its marker tells whether the COMMIT had landed. A transaction in which a statement failed is never reported
/// as committed, even when the handler caught the error (see ``PostgresTransaction``). Keep `synchronous_commit` on.
///
/// Run the client (`client.run()`) in your service group or a task, as postgres-nio requires.
public final class PostgresIdempotencyStore: IdempotencyStore {
    public let client: PostgresClient
    public let tableName: String
    /// How long the store's own statements (BEGIN, the marker insert, COMMIT, ROLLBACK) may take before the
    /// connection is closed and the transaction reported as a ``TransientStoreError``.
    public let statementTimeout: Duration
    private let logger: Logger
    /// For tests: statement timers still alive, and close callbacks registered on connections and not yet fired.
    package let counters: LiveCounters
    private let closeWatch: CloseWatch

    /// - Parameters:
    ///   - tableName: letters, digits and `_`, optionally `schema.table` (default `kafka_worker_processed`).
    ///   - statementTimeout: default 30 s (an insert may wait that long for another worker's transaction on the
    ///     same key). Range 100 ms ... 1 h.
    public init(client: PostgresClient, tableName: String = "kafka_worker_processed", statementTimeout: Duration = .seconds(30),
                logger: Logger = Logger(label: "kafka-worker.postgres")) throws(KafkaConfigurationError) {
        guard PostgresIdentifier.isValid(tableName) else {
            throw KafkaConfigurationError(key: "postgres.tableName",
                                          message: "\"\(tableName)\" is not accepted: use letters, digits and _ (optionally schema.table)")
        }
        guard (Duration.milliseconds(100) ... .seconds(3600)).contains(statementTimeout) else {
            throw KafkaConfigurationError(key: "postgres.statementTimeout", message: "\(statementTimeout) is outside 100 ms ... 1 h")
        }
        self.client = client
        self.tableName = tableName
        self.statementTimeout = statementTimeout
        self.logger = logger
        let counters = LiveCounters()
        self.counters = counters
        closeWatch = CloseWatch(counters: counters)
    }

    /// The marker table's primary-key constraint.
    public var markerConstraint: String { "\(tableName.split(separator: ".").last!)_pkey" }

    /// Creates the marker table if missing. An unreachable database (nothing listens, or nothing answers) is
    /// reported within the statement timeout as a ``TransientStoreError``: postgres-nio's pool keeps retrying a
    /// connection that fails and a lease waits for it without limit. Each statement is bounded too.
    public func prepare() async throws {
        let bound = statementTimeout
        let leased = Flag()
        try await withThrowingTaskGroup(of: PrepareStep.self) { group in
            group.addTask {
                try await self.run { connection in
                    leased.raise()
                    try await self.createSchema(on: connection)
                }
                return .created
            }
            group.addTask {
                do { try await Task.sleep(for: bound) } catch { return .timerEnded }
                guard leased.isRaised else {
                    throw TransientStoreError(reason: "no PostgreSQL connection within \(bound): the database is unreachable or does not answer")
                }
                return .timerEnded
            }
            // The first error ends the group (and cancels the lease request); the schema's creation ends the timer.
            for try await step in group where step == .created { group.cancelAll() }
        }
    }

    private enum PrepareStep: Sendable { case created, timerEnded }

    private func createSchema(on connection: PostgresConnection) async throws {
        try await execute("BEGIN", "BEGIN", on: connection)
        do {
            // Workers starting together would race in the catalog: `CREATE … IF NOT EXISTS` is not atomic and
            // the loser fails with 23505 on pg_class. A transaction-scoped advisory lock takes them in turn.
            let key = "kafka-worker:schema:\(tableName)"
            try await execute("the schema lock", "SELECT pg_advisory_xact_lock(hashtext(\(key)))", on: connection)
            try await execute("CREATE TABLE", """
                CREATE TABLE IF NOT EXISTS \(unescaped: tableName) (
                    consumer_group TEXT NOT NULL, dedup_key TEXT NOT NULL, topic TEXT NOT NULL,
                    kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL,
                    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                    CONSTRAINT \(unescaped: markerConstraint) PRIMARY KEY (consumer_group, dedup_key))
                """, on: connection)
            try await execute("CREATE INDEX", """
                CREATE INDEX IF NOT EXISTS \(unescaped: String(markerConstraint.dropLast(5)))_by_partition
                ON \(unescaped: tableName) (consumer_group, topic, kafka_partition, processed_at)
                """, on: connection)
            try await execute("COMMIT", "COMMIT", on: connection)
        } catch {
            await rollBack(connection)
            throw error
        }
    }

    /// Runs a statement without results, bounded.
    private func execute(_ what: String, _ query: PostgresQuery, on connection: PostgresConnection) async throws {
        try await bounded(what, on: connection) { connection, logger in
            for try await _ in try await connection.query(query, logger: logger) {}
        }
    }

    public func withMarkers<Result: Sendable>(
        _ markers: [ProcessedMarker], _ body: (PostgresTransaction, [Bool]) async throws -> Result
    ) async throws -> Result {
        try await run { connection in
            try await self.bounded("BEGIN", on: connection) { for try await _ in try await $0.query("BEGIN ISOLATION LEVEL READ COMMITTED", logger: $1) {} }
            let result: Result
            do {
                let fresh = try await self.insert(markers, on: connection)
                let transaction = PostgresTransaction(connection: connection, store: self)
                result = try await body(transaction, fresh)
                // A statement failed and the handler caught its error: PostgreSQL has aborted the transaction, and
                // COMMIT would only roll it back. The first error is the record's.
                if let failure = transaction.failure { throw failure }
                // Cancelled (watchdog, lost lock lease, forced stop) before COMMIT: roll back instead.
                try Task.checkCancellation()
            } catch {
                await self.rollBack(connection)
                throw error
            }
            // If COMMIT does not return, whether it landed is unknown: nothing is stored, the record comes back,
            // and its marker tells.
            let outcome = try await self.bounded("COMMIT", on: connection) { connection, logger in
                let result: EventLoopFuture<PostgresQueryResult> = connection.query("COMMIT", logger: logger)
                return try await result.get().metadata.command
            }
            // An aborted transaction (a statement on the raw connection failed and the handler caught its error)
            // answers COMMIT with the tag ROLLBACK and no error.
            guard outcome == "COMMIT" else {
                throw PostgresStoreError(sqlState: "25P02", message: "COMMIT was answered with \(outcome): a statement of the "
                                         + "transaction failed and its error was caught; the transaction was rolled back")
            }
            return result
        }
    }

    public func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                              recordedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await run { connection in
            let rows = try await connection.query("""
                WITH doomed AS (
                    SELECT consumer_group, dedup_key FROM \(unescaped: self.tableName)
                    WHERE consumer_group = \(group) AND topic = \(partition.topic) AND kafka_partition = \(partition.partition)
                      AND kafka_offset < \(committedOffset) AND processed_at < \(cutoff)
                    LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                DELETE FROM \(unescaped: self.tableName) AS m USING doomed
                WHERE m.consumer_group = doomed.consumer_group AND m.dedup_key = doomed.dedup_key
                RETURNING 1
                """, logger: self.logger)
            var count = 0
            for try await _ in rows { count += 1 }
            return count
        }
    }

    /// Inserts all markers in one statement; returns for each whether it was new.
    private func insert(_ markers: [ProcessedMarker], on connection: PostgresConnection) async throws -> [Bool] {
        guard !markers.isEmpty else { return [] }
        let query: PostgresQuery = """
            INSERT INTO \(unescaped: tableName) (consumer_group, dedup_key, topic, kafka_partition, kafka_offset)
            SELECT * FROM UNNEST(\(markers.map(\.group))::text[], \(markers.map(\.key))::text[], \(markers.map(\.topic))::text[],
                                 \(markers.map(\.partition))::integer[], \(markers.map(\.offset))::bigint[])
            ON CONFLICT (consumer_group, dedup_key) DO NOTHING
            RETURNING consumer_group, dedup_key
            """
        var inserted = try await bounded("marker insert", on: connection) { connection, logger in
            var inserted = Set<String>()
            for try await (group, key) in try await connection.query(query, logger: logger).decode((String, String).self) {
                inserted.insert("\(group)\u{0}\(key)")
            }
            return inserted
        }
        // A key repeated within `markers` is new only at its first place.
        return markers.map { inserted.remove("\($0.group)\u{0}\($0.key)") != nil }
    }

    /// Runs one of the store's statements with the statement timeout. On timeout a ``TransientStoreError`` is
    /// thrown at once, when the connection closes too, and on cancellation a `CancellationError`.
    ///
    /// A statement given up on (timeout, cancellation) may still be in flight, so the connection is closed before
    /// this returns: the pool discards it, and the next lessee never meets the statement (or a transaction it left
    /// open). Cancelled before it starts, nothing is sent and the connection stays as it was.
    ///
    /// The statement runs in a task of its own, which is not awaited then: on a connection the server dropped while
    /// it sat idle in a transaction, postgres-nio 1.33 was seen to leave the next statement pending even after
    /// `close()`. Only the race is structured: the timer is a child task, cancelled as soon as the outcome is known,
    /// and the close watch is one callback per connection (``CloseWatch``), so nothing outlives the statement.
    func bounded<T: Sendable>(
        _ what: String, on connection: PostgresConnection,
        _ work: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let logger = self.logger
        let timeout = statementTimeout
        let counters = self.counters
        let end = ResumeOnce<StatementEnd<T>>()
        let watch = closeWatch.register(connection) {
            end.finish(.abandoned(TransientStoreError(reason: "the PostgreSQL connection closed during \(what)")))
        }
        defer { closeWatch.remove(watch) }
        let statement = Task {
            do { end.finish(.returned(.success(try await work(connection, logger)))) } catch { end.finish(.returned(.failure(error))) }
        }
        let outcome = await withTaskGroup(of: Void.self) { timer in
            timer.addTask {
                counters.timerStarted()
                defer { counters.timerEnded() }
                do { try await Task.sleep(for: timeout) } catch { return }
                end.finish(.abandoned(TransientStoreError(reason: "\(what) did not return within \(timeout); the connection was closed")))
            }
            let outcome = await withTaskCancellationHandler {
                await end.wait()
            } onCancel: {
                end.finish(.abandoned(CancellationError()))
            }
            timer.cancelAll()
            return outcome
        }
        switch outcome {
        case .returned(let result):
            return try result.get()
        case .abandoned(let reason):
            statement.cancel()
            // Closing fails what is pending on the connection; it does not wait for the statement.
            try? await connection.close()
            throw reason
        }
    }

    /// Ends a transaction that must not commit, so that its connection goes back to the pool clean or closed.
    /// The ROLLBACK is shielded from the caller's cancellation (cut short, it would leave the transaction open on a
    /// pooled connection) and bounded by the statement timeout; when it fails or does not return, the connection
    /// is closed.
    func rollBack(_ connection: PostgresConnection) async {
        guard !connection.isClosed else { return }
        await Task {
            do {
                try await self.bounded("ROLLBACK", on: connection) { for try await _ in try await $0.query("ROLLBACK", logger: $1) {} }
            } catch {
                try? await connection.close()
            }
        }.value
    }

    /// Runs `work` on a pooled connection; PostgreSQL errors come out classified.
    private func run<Result: Sendable>(_ work: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withConnection { connection in try await work(connection) }
        } catch {
            throw PostgresErrorClassifier.classify(error)
        }
    }
}

/// How a bounded statement ended: it returned (nothing is in flight), or it was given up on and may still be.
enum StatementEnd<T: Sendable>: Sendable {
    case returned(Result<T, any Error>)
    case abandoned(any Error)
}

/// Raised once, read from any task.
private final class Flag: Sendable {
    private let raised = Atomic<Bool>(false)
    var isRaised: Bool { raised.load(ordering: .relaxed) }
    func raise() { raised.store(true, ordering: .relaxed) }
}

enum PostgresIdentifier {
    /// `name` or `schema.name`, each letters, digits and `_`, not starting with a digit, at most 63 characters.
    static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, !("0"..."9").contains(first), part.count <= 58 else { return false }
            return part.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || ("a"..."z").contains($0)
                || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
    }
}
