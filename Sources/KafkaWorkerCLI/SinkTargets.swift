import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import Logging
import PostgresNIO

/// The sink's destinations: the row and its idempotency marker are written in one transaction of the store.
/// Columns: dedup key, topic, partition, offset, key, value.
enum SinkTargets {
    static func sqlite(path: String, table: String, key: DedupKey<KafkaRecord>, perRecord: Bool,
                       configuration: WorkerConfiguration, logger: Logger) async throws -> (KafkaWorker, SQLiteIdempotencyStore) {
        let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE IF NOT EXISTS \(table) (dedup_key TEXT NOT NULL, topic TEXT NOT NULL, "
                                          + "kafka_partition INTEGER NOT NULL, kafka_offset INTEGER NOT NULL, record_key BLOB, value BLOB)")
        }
        let idempotency = Idempotency(store: store, key: key)
        if perRecord {
            return (KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), idempotency: idempotency,
                                logger: logger) { record, transaction in
                try await transaction.execute("INSERT INTO \(table) VALUES (?, ?, ?, ?, ?, ?)", try sqliteRow(record, key))
            }, store)
        }
        return (KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(),
                           idempotency: idempotency, logger: logger) { records, transaction in
            for chunk in stride(from: 0, to: records.count, by: 150).map({ records[$0..<min($0 + 150, records.count)] }) {
                let rows = Array(repeating: "(?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
                try await transaction.execute("INSERT INTO \(table) VALUES \(rows)", try chunk.flatMap { try sqliteRow($0, key) })
            }
        }, store)
    }


    /// Runs `body` with a worker writing to PostgreSQL, while the connection pool runs.
    static func withPostgres(url: String, table: String, key: DedupKey<KafkaRecord>, perRecord: Bool,
                             configuration: WorkerConfiguration, logger: Logger, _ body: @escaping @Sendable (KafkaWorker) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let store = try PostgresIdempotencyStore(client: client, logger: logger)
            try await store.prepare()
            _ = try await store.withMarkers([]) { transaction, _ in
                try await transaction.query("""
                    CREATE TABLE IF NOT EXISTS \(unescaped: table) (dedup_key TEXT NOT NULL, topic TEXT NOT NULL, \
                    kafka_partition INTEGER NOT NULL, kafka_offset BIGINT NOT NULL, record_key BYTEA, value BYTEA)
                    """)
            }
            @Sendable func insert(_ record: WorkerRecord<KafkaRecord>, _ transaction: PostgresTransaction) async throws {
                let dedup = try key.value(of: record), partition = Int32(record.partition), offset = record.offset
                let recordKey = record.key.map { ByteBuffer(bytes: $0) }, value = record.record.value.map { ByteBuffer(bytes: $0) }
                try await transaction.query("""
                    INSERT INTO \(unescaped: table) VALUES (\(dedup), \(record.topic), \(partition), \(offset), \(recordKey), \(value))
                    """)
            }
            let idempotency = Idempotency(store: store, key: key)
            let worker = perRecord
                ? KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), idempotency: idempotency, logger: logger,
                              handler: insert)
                : KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), idempotency: idempotency,
                              logger: logger) { records, transaction in
                    for record in records { try await insert(record, transaction) }
                }
            try await body(worker)
        }
    }

    /// The sink row of `record`: dedup key, topic, partition, offset, key, value.
    private static func sqliteRow(_ record: WorkerRecord<KafkaRecord>, _ key: DedupKey<KafkaRecord>) throws -> [SQLiteValue] {
        [.text(try key.value(of: record)), .text(record.topic), .integer(Int64(record.partition)), .integer(record.offset),
         blob(record.key), blob(record.record.value)]
    }

    private static func blob(_ bytes: KafkaBytes?) -> SQLiteValue {
        bytes.map { .blob(Array($0)) } ?? .null
    }
}
