import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import Logging
import PostgresNIO

/// Where a chaos run applies its orders: each order's effect row and its idempotency marker in one transaction.
/// The effects table has no unique constraint, so a second application of an order shows as a second row.
enum ChaosDatabase: Sendable {
    case sqlite(path: String)
    case postgres(url: String)

    var name: String {
        switch self {
        case .sqlite(let path): "SQLite \(path)"
        case .postgres: "PostgreSQL"
        }
    }
}

/// One row of the effects log.
struct ChaosEffect: Sendable, Equatable {
    var id: String
    var key: String
    var seq: Int
    /// The sequence number of the order of the same key applied just before this one (`nil` for a key's first), read
    /// and replaced under the key's row lock in the same transaction: the order in which a key's effects committed.
    var previousSeq: Int? = nil
    /// Where the record that was applied sits.
    var partition: Int32 = 0
    var offset: Int64 = 0
    /// When the row was written, by the database's clock (milliseconds since 1970; the same machine's clock as the
    /// harness's commit samples). The transaction commits after it, and the offset is committed after that.
    var appliedAt: Int64 = 0
}

/// What a worker process needs to apply orders.
struct ChaosHandlerSettings: Sendable {
    var table: String
    var worker: String
    var seed: UInt64
    var transientPercent: Double
    var latency: Duration
    /// Breaks the worker on purpose, to prove the checker sees it (tests only).
    var sabotage: ChaosSabotage?
}

/// A deliberately broken worker (tests of the checker against real runs): `duplicate` writes every 50th order's
/// effect twice, `lose` writes no effect for every 50th order (its marker still commits).
enum ChaosSabotage: String, Sendable, CaseIterable {
    case duplicate, lose

    /// How many effect rows order `order` gets.
    func rows(for order: ChaosOrder) -> Int {
        guard order.seq % 50 == 7 else { return 1 }
        switch self {
        case .duplicate: return 2
        case .lose: return 0
        }
    }
}

/// A retriable failure a chaos worker throws on purpose (the first attempt of some orders).
struct ChaosTransientFailure: Error, CustomStringConvertible {
    var id: String
    var description: String { "injected transient failure of \(id) (first attempt)" }
}

enum ChaosStore {
    /// Creates the effects table (and the store's marker table) before any worker starts, with a row per key in the
    /// key table (`last_seq` -1: none applied yet), so that every order's `FOR UPDATE` finds a row to lock — two
    /// transactions of a key that has no row yet would not wait for each other.
    static func prepare(_ database: ChaosDatabase, table: String, keys: [String], logger: Logger) async throws {
        switch database {
        case .sqlite(let path):
            let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
            try await store.prepare()
            _ = try await store.withMarkers([]) { transaction, _ in
                try await transaction.execute("""
                    CREATE TABLE IF NOT EXISTS \(table) (row_id INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, \
                    key TEXT NOT NULL, seq INTEGER NOT NULL, prev_seq INTEGER, worker TEXT NOT NULL, \
                    kafka_partition INTEGER NOT NULL, kafka_offset INTEGER NOT NULL, applied_at INTEGER NOT NULL)
                    """)
                try await transaction.execute("CREATE TABLE IF NOT EXISTS \(table)_keys (key TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)")
                for key in keys {
                    try await transaction.execute("INSERT INTO \(table)_keys VALUES (?, -1) ON CONFLICT DO NOTHING", [.text(key)])
                }
            }
        case .postgres(let url):
            try await withPostgresStore(url: url, logger: logger) { store, _ in
                _ = try await store.withMarkers([]) { transaction, _ in
                    try await transaction.query("""
                        CREATE TABLE IF NOT EXISTS \(unescaped: table) (row_id BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, \
                        key TEXT NOT NULL, seq BIGINT NOT NULL, prev_seq BIGINT, worker TEXT NOT NULL, \
                        kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, applied_at BIGINT NOT NULL)
                        """)
                    try await transaction.query(
                        "CREATE TABLE IF NOT EXISTS \(unescaped: table)_keys (key TEXT PRIMARY KEY, last_seq BIGINT NOT NULL)")
                    try await transaction.query(
                        "INSERT INTO \(unescaped: table)_keys SELECT unnest(\(keys)::text[]), -1 ON CONFLICT DO NOTHING")
                }
            }
        }
    }

    /// Every row of the effects table, in write order.
    static func effects(_ database: ChaosDatabase, table: String, logger: Logger) async throws -> [ChaosEffect] {
        switch database {
        case .sqlite(let path):
            let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
            let rows = try await store.withMarkers([]) { transaction, _ in
                try await transaction.execute(
                    "SELECT id, key, seq, prev_seq, kafka_partition, kafka_offset, applied_at FROM \(table) ORDER BY row_id")
            }
            return try rows.map { row in
                guard case .text(let id) = row[0], case .text(let key) = row[1], case .integer(let seq) = row[2],
                      case .integer(let partition) = row[4], case .integer(let offset) = row[5],
                      case .integer(let appliedAt) = row[6] else { throw ChaosFailure("an effect row of \(table) is malformed: \(row)") }
                let previous: Int? = if case .integer(let value) = row[3] { Int(value) } else { nil }
                return ChaosEffect(id: id, key: key, seq: Int(seq), previousSeq: previous, partition: Int32(partition),
                                   offset: offset, appliedAt: appliedAt)
            }
        case .postgres(let url):
            return try await withPostgresStore(url: url, logger: logger) { store, client in
                var effects: [ChaosEffect] = []
                let rows = try await client.query(
                    "SELECT id, key, seq, prev_seq, kafka_partition, kafka_offset, applied_at FROM \(unescaped: table) ORDER BY row_id")
                for try await (id, key, seq, previous, partition, offset, appliedAt)
                    in rows.decode((String, String, Int64, Int64?, Int32, Int64, Int64).self) {
                    effects.append(ChaosEffect(id: id, key: key, seq: Int(seq), previousSeq: previous.map { Int($0) },
                                               partition: partition, offset: offset, appliedAt: appliedAt))
                }
                return effects
            }
        }
    }

    /// Runs `body` with a store on a client that runs meanwhile; `prepare`: create the schema first (the harness;
    /// a worker leaves that to its own start, which retries a database that is restarting).
    static func withPostgresStore<T: Sendable>(
        url: String, prepare: Bool = true, logger: Logger, _ body: @escaping @Sendable (PostgresIdempotencyStore, PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            let store = try PostgresIdempotencyStore(client: client, logger: logger)
            if prepare { try await store.prepare() }
            return try await body(store, client)
        }
    }
}
