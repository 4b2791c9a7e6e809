import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Logging
import PostgresNIO
import Testing

/// SIGKILL of sink processes while they write: a row and its marker commit in one transaction, so a killed
/// transaction leaves neither, and the record's next owner writes it once.
@Suite("kafka-worker sink on PostgreSQL under SIGKILL", .timeLimit(.minutes(3)),
       .enabled(if: ProcessInfo.processInfo.environment["KAFKA_WORKER_TEST_POSTGRES_URL"] != nil
                    || ProcessInfo.processInfo.environment["CI"] == "true", "needs the PostgreSQL server ./scripts/test starts"))
struct SinkPostgresCrashTests {
    @Test("three sinks, 30,000 records, one SIGKILLed and restarted every 0.5–2 s while they write: every record written exactly once")
    func killsMidBatch() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["KAFKA_WORKER_TEST_POSTGRES_URL"], "KAFKA_WORKER_TEST_POSTGRES_URL is not set")
        let topic = try await SinkKills.topic("sink-pg-kill")
        let table = "sink_kill_" + UUID().uuidString.prefix(8).lowercased()
        let client = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: KafkaTesting.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await SinkKills.run(SinkKills.arguments(topic, "sink-pg") + ["--postgres-url", url, "--table", table, "--batch-size", "200"]) {
                let rows = try await client.query("SELECT count(*)::bigint, count(DISTINCT (kafka_partition, kafka_offset))::bigint FROM \(unescaped: table)")
                for try await (rows, distinct) in rows.decode((Int64, Int64).self) { return (Int(rows), Int(distinct)) }
                return (-1, -1)
            }
            _ = try? await client.query("DROP TABLE IF EXISTS \(unescaped: table)")
        }
    }
}

/// The same on SQLite with the per-record handler: concurrent records share group-committed transactions, each
/// record in a savepoint of its own; a SIGKILL loses the whole open group, which its next owner writes again.
@Suite("kafka-worker sink on SQLite, per record (group commit), under SIGKILL", .timeLimit(.minutes(3)))
struct SinkSQLiteCrashTests {
    @Test("three per-record sinks on one SQLite file, 30,000 records, one SIGKILLed and restarted every 0.5–2 s: every record written exactly once")
    func killsMidGroup() async throws {
        let topic = try await SinkKills.topic("sink-sqlite-kill")
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("sink-kill")).db").path
        let reader = try SQLiteIdempotencyStore(configuration: .init(path: database))
        let outputs = try await SinkKills.run(SinkKills.arguments(topic, "sink-sqlite")
                                                  + ["--database", database, "--per-record", "--ordering", "key", "--concurrency", "64"]) {
            let rows = try await reader.withMarkers([]) { transaction, _ in
                try await transaction.execute("SELECT count(*), count(DISTINCT kafka_partition || '/' || kafka_offset) FROM kafka_sink")
            }
            return (Int(rows.first?[0].integer ?? -1), Int(rows.first?[1].integer ?? -1))
        }
        // Every sink's totals lines say how its calls were grouped: records shared transactions.
        let grouped = outputs.flatMap { $0.split(separator: "\n") }.compactMap { line -> (Int, Int)? in
            guard let range = line.range(of: "SQLite: ") else { return nil }
            let words = line[range.upperBound...].split(separator: " ")
            guard words.count >= 4, let transactions = Int(words[0]), let calls = Int(words[3]) else { return nil }
            return (transactions, calls)
        }
        let best = grouped.max { Double($0.1) / Double(max($0.0, 1)) < Double($1.1) / Double(max($1.0, 1)) }
        #expect(best.map { $0.1 > 2 * $0.0 } == true, "no sink shared its transactions: \(grouped.suffix(6))")
    }
}

/// Three sinks on a 3-partition topic of 30,000 records; one is SIGKILLed and restarted every 0.5–2 s until the
/// table holds every record (at most 40 kills); then every record must be there exactly once.
enum SinkKills {
    static let count = 30_000

    static func topic(_ name: String) async throws -> String {
        let topic = try KafkaTesting.topic(name, partitions: 3)
        try await KafkaTesting.send((0..<count).map {
            KafkaProducerRecord(topic: topic, partition: Int32($0 % 3), key: "k\($0)", value: "v\($0)")
        })
        return topic
    }

    static func arguments(_ topic: String, _ group: String) -> [String] {
        ["sink", "--bootstrap-servers", KafkaTesting.shared.bootstrapServersString, "--topic", topic,
         "--group", KafkaTesting.unique(group), "--log-level", "warning", "--session-timeout-ms", "6000"]
    }

    /// `counts` returns the table's rows and distinct positions (it may throw while the table does not exist). Returns
    /// the output of every sink process that ran.
    @discardableResult
    static func run(_ arguments: [String], counts: @escaping @Sendable () async throws -> (rows: Int, distinct: Int)) async throws -> [String] {
        var outputs: [String] = []
        var sinks = try (0..<3).map { _ in try SpawnedWorker(arguments) }
        try await waitFor("the table exists and rows arrive", within: .seconds(30)) { ((try? await counts())?.rows ?? 0) > 0 }
        var kills = 0
        while kills < 40, let (rows, _) = try? await counts(), rows < count {
            try await Task.sleep(for: .milliseconds(Int.random(in: 500...2_000)))
            let victim = Int.random(in: 0..<3)
            sinks[victim].send(SIGKILL)
            _ = await sinks[victim].exitStatus(within: .seconds(10))
            outputs.append(sinks[victim].text)
            sinks[victim] = try SpawnedWorker(arguments)
            kills += 1
        }
        try await waitFor("\(count) rows", within: .seconds(90)) { ((try? await counts())?.distinct ?? 0) >= count }
        let (rows, distinct) = try await counts()
        #expect(kills >= 3, "the sinks were killed while writing (\(kills) kills)")
        #expect(rows == count && distinct == count, "rows \(rows), distinct positions \(distinct), expected \(count) each")
        for sink in sinks { sink.send(SIGINT) }
        for sink in sinks { _ = await sink.exitStatus(within: .seconds(30)) }
        return outputs + sinks.map(\.text)
    }
}
