import ArgumentParser
import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import Logging

/// `kafka-worker sink`: copies topics into a SQLite table, each message once (idempotency markers in the same
/// transaction). Several sink processes may share one group and one database file.
struct SinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink",
        abstract: "Copy topics into a SQLite table, each message once, until SIGINT or SIGTERM.",
        discussion: """
            Rows go to --table (created if missing) with the dedup key, topic, partition, offset, key and value, in \
            the same transaction as the idempotency marker; a duplicate (same dedup key) is skipped and counted. Run \
            several sinks with the same --group and --database to share the work. Prints a line per second while \
            records arrive, and totals on exit.
            """)

    @Option(name: .long, help: "Kafka bootstrap servers, host:port[,host:port…].")
    var bootstrapServers: String

    @Option(name: .long, help: "A topic to copy (repeat for more).")
    var topic: [String]

    @Option(name: .long, help: "Consumer group.")
    var group: String

    @Option(name: .long, help: "SQLite database file (created if missing; WAL mode; shared safely between processes).")
    var database: String

    @Option(name: .long, help: "Destination table.")
    var table: String = "kafka_sink"

    @Option(name: .long, help: """
        Dedup key: offset (default: topic/partition/offset — each message once, whatever its key; protects against \
        redelivery), key (the record key: only for topics keyed by message id — on a topic keyed by entity every later \
        message of an entity would be dropped), or header:NAME (a message-id header).
        """)
    var dedupKey: String = "offset"

    @Option(name: .long, help: "Records per transaction at most.")
    var batchSize: Int = 500

    @Option(name: .long, help: """
        session.timeout.ms: how long the group waits for a silent member (default 45000). Heartbeats go every \
        third of it, at most every 3 s.
        """)
    var sessionTimeoutMs: Int?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try Self.dedupKey(dedupKey)
        if let sessionTimeoutMs, !(1_000...3_600_000).contains(sessionTimeoutMs) {
            throw ValidationError("--session-timeout-ms \(sessionTimeoutMs) is outside the accepted range 1000...3600000")
        }
        guard SQLiteIdempotencyStore.isValidTableName(table) else {
            throw ValidationError("--table \"\(table)\" is not accepted: use letters, digits and _, not starting with a digit")
        }
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...100000") }
        guard !topic.isEmpty else { throw ValidationError("at least one --topic is required") }
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
        let store = try SQLiteIdempotencyStore(configuration: .init(path: database))
        try await store.prepare()
        let table = self.table
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE IF NOT EXISTS \(table) (dedup_key TEXT NOT NULL, topic TEXT NOT NULL, "
                                          + "kafka_partition INTEGER NOT NULL, kafka_offset INTEGER NOT NULL, record_key BLOB, value BLOB)")
        }
        var configuration = WorkerConfiguration(
            bootstrapServers: bootstrapServers.split(separator: ",").map(String.init), groupID: group, topics: topic)
        configuration.maxBatchSize = batchSize
        if let sessionTimeoutMs {
            configuration.consumer.session.timeout = .milliseconds(sessionTimeoutMs)
            configuration.consumer.session.heartbeatInterval = min(.seconds(3), .milliseconds(sessionTimeoutMs / 3))
        }
        let key = try Self.dedupKey(dedupKey)
        let worker = KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(),
                                 idempotency: Idempotency(store: store, key: key), logger: logger) { records, transaction in
            for chunk in stride(from: 0, to: records.count, by: 150).map({ records[$0..<min($0 + 150, records.count)] }) {
                let rows = Array(repeating: "(?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
                try await transaction.execute("INSERT INTO \(table) VALUES \(rows)", try chunk.flatMap { record in
                    [SQLiteValue.text(try key.value(of: record)), .text(record.topic), .integer(Int64(record.partition)),
                     .integer(record.offset), Self.blob(record.key), Self.blob(record.record.value)]
                })
            }
        }
        let signals = handleTerminationSignals(for: worker, logger: logger)
        defer { signals.cancel() }
        printLine("sink started: group \(group), topics \(topic.joined(separator: ",")), database \(database)")
        let progress = Task {
            var last = WorkerStatistics()
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let now = worker.statistics
                if now != last { printLine(Self.totals(now)) }
                last = now
            }
        }
        defer { progress.cancel() }
        try await worker.run()
        printLine("sink stopped: " + Self.totals(worker.statistics))
    }

    private static func blob(_ bytes: KafkaBytes?) -> SQLiteValue {
        bytes.map { .blob(Array($0)) } ?? .null
    }

    static func totals(_ statistics: WorkerStatistics) -> String {
        "\(statistics.processed - statistics.duplicatesSkipped) written, \(statistics.duplicatesSkipped) duplicates skipped, "
            + "\(statistics.deadLettered) dead-lettered, \(statistics.failed) failed attempts"
    }
}
