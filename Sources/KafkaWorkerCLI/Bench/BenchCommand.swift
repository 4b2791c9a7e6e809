import ArgumentParser
import Foundation
import KafkaClient
import KafkaWorker
import Logging

/// `kafka-worker bench`: throughput of the worker against a bare librdkafka loop, on the same broker, in one run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the worker against a bare librdkafka loop and the source chapter's commit-per-record pattern.",
        discussion: """
            Every contender reads the same records in a consumer group of its own; the time runs from its first \
            record to its last (group joins excluded). Prints a table and, last, worker(partition)/bare.

            With --sink postgres: Kafka → PostgreSQL, the worker's idempotent batch inserts against the source's \
            per-record INSERT + per-record commit, on the same server; prints idempotent-batch/per-record last. \
            The URL comes from --postgres-url or POSTGRES_URL; the benchmark creates and drops its own tables.
            """)

    @Option(name: .long, help: "Records to produce and read (embedded cluster).")
    var records: Int = 400_000

    @Option(name: .long, help: "Partitions of the benchmark topic (embedded cluster).")
    var partitions: Int = 12

    @Option(name: .long, help: "Records for the commit-per-record pattern (it is slow).")
    var seedRecords: Int = 10_000

    @Option(name: .long, help: "Use this cluster instead of an embedded one (needs --topic, already filled).")
    var bootstrapServers: String?

    @Option(name: .long, help: "The topic to read on --bootstrap-servers.")
    var topic: String?

    @Option(name: .long, help: "The worker's maxBufferedRecordsPerPartition (default: the worker's default).")
    var bufferedPerPartition: Int?

    @Option(name: .long, help: """
        Comma-separated contenders to run: \(BenchCommand.allContenders.joined(separator: ",")) \
        (default: all). bare and partition are always run: they make the headline.
        """)
    var contenders: String?

    @Option(name: .long, help: "Rounds of all contenders, interleaved; each contender's best round counts.")
    var repeats: Int = 3

    @Option(name: .long, help: "What the records go to: none (default; measures the worker against bare librdkafka) or postgres.")
    var sink: String = "none"

    @Option(name: .long, help: "PostgreSQL URL for --sink postgres (postgres://user:password@host:port/db); default: $POSTGRES_URL.")
    var postgresURL: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard records >= 1_000 else { throw ValidationError("--records must be at least 1000") }
        guard (1...64).contains(partitions) else { throw ValidationError("--partitions must be in 1...64") }
        guard seedRecords >= 100 && seedRecords <= records else {
            throw ValidationError("--seed-records must be in 100...--records")
        }
        guard (bootstrapServers == nil) == (topic == nil) else {
            throw ValidationError("--bootstrap-servers and --topic go together")
        }
        let unknown = selectedContenders.subtracting(Self.allContenders)
        guard unknown.isEmpty else {
            throw ValidationError("--contenders: \(unknown.sorted().joined(separator: ", ")) not among \(Self.allContenders.joined(separator: ", "))")
        }
        guard (1...10).contains(repeats) else { throw ValidationError("--repeats must be in 1...10") }
        guard ["none", "postgres"].contains(sink) else { throw ValidationError("--sink \"\(sink)\" is not one of: none, postgres") }
        if sink == "postgres" && resolvedPostgresURL == nil {
            throw ValidationError("--sink postgres needs --postgres-url or the POSTGRES_URL environment variable")
        }
    }

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "kafka-worker.bench")
        var cluster: EmbeddedKafkaCluster?
        defer { cluster?.stop() }
        let servers: [String]
        let benchTopic: String
        if let bootstrapServers, let topic {
            servers = bootstrapServers.split(separator: ",").map(String.init)
            benchTopic = topic
        } else {
            let embedded = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
            cluster = embedded
            servers = embedded.bootstrapServers
            benchTopic = "bench"
            try embedded.createTopic(benchTopic, partitions: partitions)
            try await BenchData.produce(records, topic: benchTopic, to: servers, logger: logger)
        }
        try await BenchData.checkRetained(topic: benchTopic, servers: servers, atLeast: records)

        let bench = BenchContenders(servers: servers, topic: benchTopic, bufferedPerPartition: bufferedPerPartition,
                                    logger: logger)
        if sink == "postgres", let url = resolvedPostgresURL {
            let sinkBench = PostgresSinkBench(servers: servers, topic: benchTopic, contenders: bench, logger: logger)
            for line in try await sinkBench.run(url: url, records: records, perRecordRecords: seedRecords) { printLine(line) }
            return
        }
        // Rounds interleave the contenders, so a slow spell of the machine hits all of them alike. The table shows
        // each one's best and median round; the headline is the ratio of the bests, also given round by round.
        var runs: [(name: String, run: () async throws -> BenchResult)] = [
            ("bare librdkafka loop", { try await bench.bare(count: records) }),
        ]
        let selected = selectedContenders
        if selected.contains("consumer") {
            runs.append(("KafkaConsumer batches", { try await bench.consumerBatches(count: records) }))
        }
        for mode in ["partition", "key", "unordered"] where selected.contains(mode) {
            runs.append(("worker(\(mode))", { try await bench.worker(mode: OrderingMode(name: mode)!, count: records) }))
        }
        if selected.contains("partition-no-headers") {
            runs.append(("worker(partition, no hdrs)", {
                try await bench.worker(mode: .partition, count: records, readHeaders: false)
            }))
        }
        var rounds: [String: [BenchResult]] = [:]
        for _ in 0..<repeats {
            for contender in runs { rounds[contender.name, default: []].append(try await contender.run()) }
        }
        var table = BenchTable()
        for contender in runs { table.add(contender.name, rounds: rounds[contender.name]!) }
        if selected.contains("source") {
            table.add("commit per record (source)", try await bench.commitPerRecord(count: seedRecords))
        }
        for line in table.lines(baseline: "bare librdkafka loop", headline: "worker(partition)") { printLine(line) }
    }

    static let allContenders = ["bare", "consumer", "partition", "key", "unordered", "partition-no-headers", "source"]

    /// The contenders asked for, always with the two of the headline.
    private var selectedContenders: Set<String> {
        guard let contenders else { return Set(Self.allContenders) }
        let names = contenders.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return Set(names).union(["bare", "partition"])
    }

    private var resolvedPostgresURL: String? {
        postgresURL ?? ProcessInfo.processInfo.environment["POSTGRES_URL"]
    }
}
