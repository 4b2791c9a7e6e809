import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import Logging
import PostgresNIO

/// How a chaos worker applies an order: in the transaction that inserts its idempotency marker, it reads and
/// replaces its key's last applied sequence number under the key's row lock (the order in which the key's effects
/// commit, whatever the row ids say) and writes the effect row with it.
extension ChaosStore {
    /// Runs `body` with a worker that applies orders to `database`, while the store's connections run.
    static func withWorker(_ database: ChaosDatabase, configuration: WorkerConfiguration, settings: ChaosHandlerSettings,
                           logger: Logger, _ body: @escaping @Sendable (KafkaWorker) async throws -> Void) async throws {
        let key = DedupKey<ChaosOrder>.field("id") { $0.id }
        let table = settings.table
        switch database {
        case .sqlite(let path):
            let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
            let worker = KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<ChaosOrder>(),
                                     idempotency: Idempotency(store: store, key: key), logger: logger) { (record: WorkerRecord<ChaosOrder>, transaction) in
                try await check(record, settings)
                let order = record.value
                // The transaction holds SQLite's write lock from its start: reading and replacing is atomic.
                let previous = try await transaction.execute("SELECT last_seq FROM \(table)_keys WHERE key = ?", [.text(order.key)])
                    .first.flatMap { row -> SQLiteValue? in row.first }.flatMap { $0 == .integer(-1) ? nil : $0 }
                try await transaction.execute("INSERT INTO \(table)_keys (key, last_seq) VALUES (?, ?) "
                                              + "ON CONFLICT (key) DO UPDATE SET last_seq = excluded.last_seq",
                                              [.text(order.key), .integer(Int64(order.seq))])
                for _ in 0..<(settings.sabotage?.rows(for: order) ?? 1) {
                    try await transaction.execute(
                        "INSERT INTO \(table) (id, key, seq, prev_seq, worker, kafka_partition, kafka_offset, applied_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                        [.text(order.id), .text(order.key), .integer(Int64(order.seq)), previous ?? .null, .text(settings.worker),
                         .integer(Int64(record.partition)), .integer(record.offset)])
                }
            }
            try await body(worker)
        case .postgres(let url):
            try await withPostgresStore(url: url, prepare: false, logger: logger) { store, _ in
                let worker = KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<ChaosOrder>(),
                                         idempotency: Idempotency(store: store, key: key), logger: logger) { (record: WorkerRecord<ChaosOrder>, transaction) in
                    try await check(record, settings)
                    let order = record.value, seq = Int64(order.seq), partition = Int32(record.partition), offset = record.offset
                    // FOR UPDATE waits for a concurrent writer of the key and then reads its committed value.
                    let previous = try await transaction.query(
                        "SELECT last_seq FROM \(unescaped: table)_keys WHERE key = \(order.key) FOR UPDATE")
                        .first.map { try $0.decode(Int64.self) }.flatMap { $0 < 0 ? nil : $0 }
                    _ = try await transaction.query("""
                        INSERT INTO \(unescaped: table)_keys (key, last_seq) VALUES (\(order.key), \(seq)) \
                        ON CONFLICT (key) DO UPDATE SET last_seq = EXCLUDED.last_seq
                        """)
                    for _ in 0..<(settings.sabotage?.rows(for: order) ?? 1) {
                        _ = try await transaction.query("""
                            INSERT INTO \(unescaped: table) (id, key, seq, prev_seq, worker, kafka_partition, kafka_offset, \
                            applied_at) VALUES (\(order.id), \(order.key), \(seq), \(previous), \(settings.worker), \(partition), \
                            \(offset), (extract(epoch from clock_timestamp()) * 1000)::bigint)
                            """)
                    }
                }
                try await body(worker)
            }
        }
    }

    /// The order's fate before its effect: poison fails for good, some first attempts fail transiently, then the latency.
    private static func check(_ record: WorkerRecord<ChaosOrder>, _ settings: ChaosHandlerSettings) async throws {
        if record.value.poison { throw NonRetriableError("order \(record.value.id) is rejected by a business rule") }
        if ChaosPlan.failsTransiently(id: record.value.id, attempt: record.attempt, seed: settings.seed,
                                      percent: settings.transientPercent) {
            throw ChaosTransientFailure(id: record.value.id)
        }
        if settings.latency > .zero { try await Task.sleep(for: settings.latency) }
    }
}
