import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import Logging
import PostgresNIO

/// Kafka → PostgreSQL, two ways, on the same records and the same server:
/// - idempotent-batch: the worker's batch handler; one transaction per batch inserts the markers
///   (`INSERT … ON CONFLICT DO NOTHING RETURNING`) and the rows (one `INSERT … SELECT FROM UNNEST`);
/// - per-record (the source chapter): per record an autocommitted `INSERT` (a unique violation, 23505, means
///   "duplicate, skip") and then a synchronous Kafka commit of its offset.
struct PostgresSinkBench {
    let servers: [String]
    let topic: String
    let contenders: BenchContenders
    let logger: Logger

    struct Row: Decodable, Sendable { var id: Int }

    func run(url: String, records: Int, perRecordRecords: Int) async throws -> [String] {
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = 20
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let markers = "bench_markers_\(suffix)", batchRows = "bench_rows_\(suffix)", seedRows = "bench_seed_rows_\(suffix)"
            for table in [batchRows, seedRows] {
                try await client.query("CREATE TABLE \(unescaped: table) (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)")
            }
            defer {
                Task { [client] in
                    for table in [markers, batchRows, seedRows] { _ = try? await client.query("DROP TABLE IF EXISTS \(unescaped: table)") }
                }
            }
            var table = BenchTable()
            table.add("idempotent-batch", try await BenchResult.measured {
                try await idempotentBatch(client, markers: markers, rows: batchRows, count: records)
            })
            table.add("per-record (source)", try await BenchResult.measured {
                try await perRecord(client, rows: seedRows, count: perRecordRecords)
            })
            for table in [markers, batchRows, seedRows] { _ = try? await client.query("DROP TABLE IF EXISTS \(unescaped: table)") }
            return table.lines(baseline: "per-record (source)", headline: "idempotent-batch", baselineLabel: "per-record")
        }
    }

    private func idempotentBatch(_ client: PostgresClient, markers: String, rows: String, count: Int) async throws -> BenchResult {
        let store = try PostgresIdempotencyStore(client: client, tableName: markers, logger: logger)
        var configuration = WorkerConfiguration(bootstrapServers: servers, groupID: "", topics: [topic])
        configuration.consumer = contenders.consumerConfiguration("pg-batch")
        configuration.deadLetter.enabled = false
        configuration.maxBatchSize = 1_000
        let meter = Meter(target: count)
        let worker = KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Row>(),
                                 idempotency: Idempotency(store: store, key: .field("id") { "\($0.id)" }),
                                 logger: logger) { records, transaction in
            let ids = records.map { Int64($0.value.id) }
            let payloads = records.map { String(decoding: $0.record.value ?? [], as: UTF8.self) }
            try await transaction.query("INSERT INTO \(unescaped: rows) (id, payload) SELECT * FROM UNNEST(\(ids)::bigint[], \(payloads)::text[])")
            meter.tick(records.count)
        }
        return try await BenchResult.timing(worker, until: meter)
    }

    private func perRecord(_ client: PostgresClient, rows: String, count: Int) async throws -> BenchResult {
        let decoder = JSONDecoder()
        return try await contenders.consume("pg-seed", count: count) { consumer, batch in
            for record in batch {
                let id = Int64(try decoder.decode(Row.self, from: Data(record.value ?? [])).id)
                let payload = String(decoding: record.value ?? [], as: UTF8.self)
                do {
                    try await client.query("INSERT INTO \(unescaped: rows) (id, payload) VALUES (\(id), \(payload))")
                } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                    // The source's "duplicate: skip".
                }
                try await consumer.commit([record.nextOffset])
            }
        }
    }
}
