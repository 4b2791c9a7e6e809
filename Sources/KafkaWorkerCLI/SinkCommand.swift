import ArgumentParser
import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import Logging

/// `kafka-worker sink`: copies topics into a SQLite or PostgreSQL table, each message once (idempotency markers in
/// the same transaction). Several sink processes may share one group and one database.
struct SinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink",
        abstract: "Copy topics into a SQLite or PostgreSQL table, each message once, until SIGINT or SIGTERM.",
        discussion: """
            Rows go to --table (created if missing) with the dedup key, topic, partition, offset, key and value, in \
            the same transaction as the idempotency marker; a duplicate (same dedup key) is skipped and counted. Run \
            several sinks with the same --group and --database (or --postgres-url) to share the work. Prints a line per second while \
            records arrive, and totals on exit.
            """)

    @Option(name: .long, help: "Kafka bootstrap servers, host:port[,host:port…].")
    var bootstrapServers: String

    @Option(name: .long, help: "A topic to copy (repeat for more).")
    var topic: [String]

    @Option(name: .long, help: "Consumer group.")
    var group: String

    @Option(name: .long, help: "SQLite database file (created if missing; WAL mode; shared safely between processes).")
    var database: String?

    @Option(name: .long, help: """
        PostgreSQL instead of SQLite: postgres://user:password@host:port/database[?sslmode=disable|require]. The password \
        may also come from PGPASSWORD; it is never printed.
        """)
    var postgresUrl: String?

    @Option(name: .long, help: "Destination table.")
    var table: String = "kafka_sink"

    @Option(name: .long, help: """
        Dedup key: offset (default: topic/partition/offset — each message once, whatever its key; protects against \
        redelivery), key (the record key: only for topics keyed by message id — on a topic keyed by entity every later \
        message of an entity would be dropped), or header:NAME (a message-id header).
        """)
    var dedupKey: String = "offset"

    @Option(name: .long, help: "Records per transaction at most (batch mode).")
    var batchSize: Int = 500

    @Flag(name: .long, help: """
        One record per handler call instead of batches: each record's row and marker in a savepoint of its own. On \
        SQLite, records running at once (--ordering key or unordered) share transactions (group commit: one COMMIT \
        for up to 100 records).
        """)
    var perRecord = false

    @Option(name: .long, help: "Records handled at once at most (1 ... 10000; default 64).")
    var concurrency: Int = 64

    @Option(name: .long, help: """
        Ordering: partition (default: one record at a time per partition), key (one at a time per record key; \
        with --per-record, keys run side by side) or unordered.
        """)
    var ordering: String = "partition"

    @Option(name: .long, help: """
        session.timeout.ms: how long the group waits for a silent member (default 45000). Heartbeats go every \
        third of it, at most every 3 s.
        """)
    var sessionTimeoutMs: Int?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try Self.dedupKey(dedupKey)
        guard OrderingMode(name: ordering) != nil else {
            throw ValidationError("--ordering \"\(ordering)\" is not one of: partition, key, unordered")
        }
        if !(1...10_000).contains(concurrency) {
            throw ValidationError("--concurrency \(concurrency) is outside 1 ... 10000")
        }
        if let sessionTimeoutMs, !(1_000...3_600_000).contains(sessionTimeoutMs) {
            throw ValidationError("--session-timeout-ms \(sessionTimeoutMs) is outside the accepted range 1000...3600000")
        }
        guard SQLiteIdempotencyStore.isValidTableName(table) else {
            throw ValidationError("--table \"\(table)\" is not accepted: use letters, digits and _, not starting with a digit")
        }
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...100000") }
        guard !topic.isEmpty else { throw ValidationError("at least one --topic is required") }
        guard (database == nil) != (postgresUrl == nil) else {
            throw ValidationError("give exactly one of --database (SQLite) and --postgres-url (PostgreSQL)")
        }
        if let postgresUrl { _ = try PostgresURL.configuration(postgresUrl) }
    }

    static func dedupKey(_ text: String) throws -> DedupKey<KafkaRecord> {
        switch text {
        case "key": return .recordKey
        case "offset": return .topicPartitionOffset
        case let header where header.hasPrefix("header:") && header.count > 7: return .header(String(header.dropFirst(7)))
        default: throw ValidationError("--dedup-key \"\(text)\" is not one of: key, header:NAME, offset")
        }
    }

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "kafka-worker.sink")
        var configuration = WorkerConfiguration(
            bootstrapServers: bootstrapServers.split(separator: ",").map(String.init), groupID: group, topics: topic)
        configuration.maxBatchSize = batchSize
        configuration.maxConcurrency = concurrency
        configuration.ordering = OrderingMode(name: ordering)!
        if let sessionTimeoutMs {
            configuration.consumer.session.timeout = .milliseconds(sessionTimeoutMs)
            configuration.consumer.session.heartbeatInterval = min(.seconds(3), .milliseconds(sessionTimeoutMs / 3))
        }
        let key = try Self.dedupKey(dedupKey)
        if let database {
            let (worker, store) = try await SinkTargets.sqlite(path: database, table: table, key: key, perRecord: perRecord,
                                                               configuration: configuration, logger: logger)
            try await run(worker, destination: "database \(database)", logger: logger) {
                let statistics = store.statistics
                return "; SQLite: \(statistics.transactions) transactions for \(statistics.committedCalls) calls"
            }
        } else if let postgresUrl {
            try await SinkTargets.withPostgres(url: postgresUrl, table: table, key: key, perRecord: perRecord,
                                                 configuration: configuration, logger: logger) {
                try await run($0, destination: "PostgreSQL table \(table)", logger: logger)
            }
        }
    }

    /// Runs the worker until a signal stops it, with a progress line per second.
    /// `details`: what the destination adds to each totals line.
    private func run(_ worker: KafkaWorker, destination: String, logger: Logger,
                     details: @escaping @Sendable () -> String = { "" }) async throws {
        let signals = handleTerminationSignals(for: worker, logger: logger)
        defer { signals.cancel() }
        printLine("sink started: group \(group), topics \(topic.joined(separator: ",")), \(destination)")
        let progress = Task {
            var last = WorkerStatistics()
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let now = worker.statistics
                if now != last { printLine(Self.totals(now) + details()) }
                last = now
            }
        }
        defer { progress.cancel() }
        try await worker.run()
        printLine("sink stopped: " + Self.totals(worker.statistics) + details())
    }

    static func totals(_ statistics: WorkerStatistics) -> String {
        "\(statistics.processed - statistics.duplicatesSkipped) written, \(statistics.duplicatesSkipped) duplicates skipped, "
            + "\(statistics.deadLettered) dead-lettered, \(statistics.failed) failed attempts"
    }
}
