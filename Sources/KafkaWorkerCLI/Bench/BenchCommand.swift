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

            With --handler-latency (e.g. 5ms): the keyed-I/O case — a handler that awaits that long, records over \
            --keys keys — for each ordering mode at each --concurrency, with the bound that mode allows at that \
            latency and the share of it reached.

            With --sink postgres: Kafka → PostgreSQL, the worker's idempotent batch inserts against the source's \
            per-record INSERT + per-record commit, on the same server; prints idempotent-batch/per-record last. \
            The URL comes from --postgres-url or POSTGRES_URL; the benchmark creates and drops its own tables.

            With --sink sqlite (and --handler-latency): Kafka → SQLite with the per-record idempotent handler — the \
            I/O inside the transaction with a COMMIT per record, against group commit with the I/O in prepare — and \
            the batch handler, each into a fresh file; prints the group-commit/one-commit-each ratio last.

            Every row has the process's peak resident set during that contender's rounds.
            """)

    @Option(name: .long, help: "Records to produce and read (embedded cluster; default 400000, 20000 with --handler-latency).")
    var records: Int?

    @Option(name: .long, help: "What a handler awaits per record (simulated I/O, e.g. 5ms, 500us, 1s): the keyed-I/O benchmark.")
    var handlerLatency: String?

    @Option(name: .long, help: "Distinct record keys (1 ... 1000000).")
    var keys: Int = 1_000

    @Option(name: .long, help: "The worker's maxConcurrency with --handler-latency, comma-separated (default 64,256,1024).")
    var concurrency: String = "64,256,1024"

    @Option(name: .long, help: "Ordering for --sink sqlite: partition, key (default) or unordered.")
    var ordering: String = "key"

    @Option(name: .long, help: "Partitions of the benchmark topic (embedded cluster).")
    var partitions: Int = 12

    @Option(name: .long, help: "Records for the slow contenders: the commit-per-record pattern, the per-record sinks with the I/O in the transaction.")
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

    @Option(name: .long, help: "What the records go to: none (default; measures the worker against bare librdkafka), postgres or sqlite.")
    var sink: String = "none"

    @Option(name: .long, help: "PostgreSQL URL for --sink postgres (postgres://user:password@host:port/db); default: $POSTGRES_URL.")
    var postgresURL: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard recordCount >= 1_000 else { throw ValidationError("--records must be at least 1000") }
        guard (1...64).contains(partitions) else { throw ValidationError("--partitions must be in 1...64") }
        guard (1...1_000_000).contains(keys) else { throw ValidationError("--keys must be in 1...1000000") }
        if let handlerLatency {
            guard let latency = Self.duration(handlerLatency), latency > .zero, latency <= .seconds(10) else {
                throw ValidationError("--handler-latency \"\(handlerLatency)\" is not a duration in 1us ... 10s (e.g. 5ms, 500us, 1s)")
            }
        }
        guard Self.concurrencies(concurrency) != nil else {
            throw ValidationError("--concurrency \"\(concurrency)\" is not a comma-separated list of numbers in 1...10000")
        }
        guard OrderingMode(name: ordering) != nil else { throw ValidationError("--ordering \"\(ordering)\" is not one of: partition, key, unordered") }
        guard seedRecords >= 100 && seedRecords <= recordCount else {
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
        guard ["none", "postgres", "sqlite"].contains(sink) else {
            throw ValidationError("--sink \"\(sink)\" is not one of: none, postgres, sqlite")
        }
        if sink == "sqlite" && handlerLatency == nil {
            throw ValidationError("--sink sqlite needs --handler-latency (what each record's simulated I/O awaits, e.g. 5ms)")
        }
        if sink == "postgres" && resolvedPostgresURL == nil {
            throw ValidationError("--sink postgres needs --postgres-url or the POSTGRES_URL environment variable")
        }
    }

    func run() async throws {
        let records = recordCount
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
            try await BenchData.produce(records, keys: keys, topic: benchTopic, to: servers, logger: logger)
        }
        try await BenchData.checkRetained(topic: benchTopic, servers: servers, atLeast: records)

        let bench = BenchContenders(servers: servers, topic: benchTopic, bufferedPerPartition: bufferedPerPartition,
                                    logger: logger)
        if let handlerLatency, let latency = Self.duration(handlerLatency), let levels = Self.concurrencies(concurrency) {
            let lines: [String]
            if sink == "sqlite" {
                let sinkBench = SQLiteSinkBench(contenders: bench, latency: latency, records: records,
                                                slowRecords: min(seedRecords, records))
                lines = try await levels.asyncFlatMap { try await sinkBench.run(concurrency: $0, ordering: OrderingMode(name: ordering)!) }
            } else {
                let partitionCount = try await KafkaAdmin(connection: .init(bootstrapServers: servers)).partitionCount(topic: benchTopic)
                let keyed = KeyedIOBench(contenders: bench, latency: latency, keys: keys, partitions: partitionCount, records: records)
                // Only the modes asked for: .partition at 5 ms is slow, and not the point of this benchmark.
                let asked = contenders.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
                    ?? ["partition", "key", "unordered"]
                let modes = ["partition", "key", "unordered"].filter(asked.contains).compactMap(OrderingMode.init(name:))
                lines = try await keyed.run(concurrencies: levels, modes: modes, repeats: repeats)
            }
            for line in lines { printLine(line) }
            return
        }
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
            for contender in runs { rounds[contender.name, default: []].append(try await BenchResult.measured(contender.run)) }
        }
        var table = BenchTable()
        for contender in runs { table.add(contender.name, rounds: rounds[contender.name]!) }
        if selected.contains("source") {
            table.add("commit per record (source)", try await BenchResult.measured { try await bench.commitPerRecord(count: seedRecords) })
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

    private var recordCount: Int { records ?? (handlerLatency == nil ? 400_000 : 20_000) }

    /// `5ms`, `500us`, `1s`, `1.5s`.
    static func duration(_ text: String) -> Duration? {
        for (suffix, scale) in [("ms", 1e-3), ("us", 1e-6), ("s", 1.0)] where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return .nanoseconds(Int64((value * scale * 1e9).rounded()))
        }
        return nil
    }

    static func concurrencies(_ text: String) -> [Int]? {
        let levels = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !levels.isEmpty, levels.allSatisfy({ $0.map { (1...10_000).contains($0) } ?? false }) else { return nil }
        return levels.compactMap { $0 }
    }

    private var resolvedPostgresURL: String? {
        postgresURL ?? ProcessInfo.processInfo.environment["POSTGRES_URL"]
    }
}
