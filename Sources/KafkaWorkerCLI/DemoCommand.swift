import ArgumentParser
import KafkaClient
import KafkaWorker
import Logging

/// `kafka-worker demo`: the source chapter's order service, done right, on an embedded Kafka cluster.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the order-processing worker on an embedded Kafka cluster and check that nothing was lost.",
        discussion: """
            Produces sample orders (with re-sent duplicates and malformed records) to an embedded cluster, runs \
            the worker until every record is finished, stops it gracefully, and checks: every order applied once, \
            duplicates skipped, exactly the malformed records dead-lettered, and the group's lag at 0. Orders and \
            idempotency markers go to a SQLite database (a temporary file unless --database names one), in one \
            transaction per batch.
            """)

    @Option(name: .long, help: "Number of orders to produce.")
    var orders: Int = 100_000

    @Option(name: .long, help: "Partitions of the orders topic.")
    var partitions: Int = 6

    @Option(name: .long, help: "partition, key or unordered.")
    var ordering: String = "partition"

    @Option(name: .long, help: "Records handled at once.")
    var concurrency: Int = 16

    @Option(name: .long, help: "SQLite database file for orders and idempotency markers (default: a temporary file, removed at the end).")
    var database: String?

    @Flag(name: .long, help: "Keep the embedded cluster and worker up after the summary, until SIGINT or SIGTERM.")
    var keepRunning = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard orders >= 100 else { throw ValidationError("--orders must be at least 100") }
        guard (1...64).contains(partitions) else { throw ValidationError("--partitions must be in 1...64") }
        guard OrderingMode(name: ordering) != nil else {
            throw ValidationError("--ordering \"\(ordering)\" is not one of: partition, key, unordered")
        }
    }

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "kafka-worker.demo")
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        defer { cluster.stop() }
        try cluster.createTopic("orders", partitions: partitions)
        try cluster.createTopic("orders.dlq", partitions: 1)
        printLine("bootstrap.servers=\(cluster.bootstrapServersString)")

        let input = DemoOrders(count: orders, topic: "orders")
        try await input.produce(to: cluster.bootstrapServers, logger: logger)
        printLine("produced \(input.total) records: \(orders) orders, \(input.duplicates) re-sent duplicates, "
                  + "\(input.malformedCount) malformed")

        var configuration = WorkerConfiguration(bootstrapServers: cluster.bootstrapServers, groupID: "orders-demo",
                                                topics: ["orders"])
        configuration.consumer.session.timeout = .seconds(6)
        configuration.consumer.session.heartbeatInterval = .seconds(1)
        configuration.consumer.commit.interval = .seconds(1)
        configuration.ordering = OrderingMode(name: ordering)!
        configuration.maxConcurrency = concurrency
        configuration.summaryInterval = .seconds(10)
        let storage = try DemoDatabase(path: database)
        defer { storage.removeIfTemporary() }
        try await storage.prepare()
        let worker = KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Order>(),
                                 idempotency: Idempotency(store: storage.store, key: .field("orderId") { $0.orderId }),
                                 logger: logger) { orders, transaction in
            try await DemoDatabase.apply(orders, in: transaction)
        }
        let signals = handleTerminationSignals(for: worker, logger: logger)
        defer { signals.cancel() }
        let running = Task { try await worker.run() }

        var progress = DemoProgress(worker: worker, total: input.total)
        let finishedAll = await progress.waitForAll(while: running)
        if !keepRunning || !finishedAll { worker.stop() }
        if keepRunning && finishedAll {
            printLine("all records finished; the worker keeps running until SIGINT or SIGTERM")
        }
        try await running.value

        let check = try await DemoCheck.run(cluster: cluster, partitions: partitions, group: configuration.groupID)
        let statistics = worker.statistics
        let applied = try await storage.appliedCount()
        let ok = finishedAll && applied == orders && statistics.duplicatesSkipped == input.duplicates
            && statistics.deadLettered == input.malformedCount && check.deadLetters == input.malformedCount && check.lag == 0
        printLine("""
            processed: \(statistics.processed) records (\(applied) orders applied, \(statistics.duplicatesSkipped) duplicates skipped)
            dead-lettered: \(statistics.deadLettered) (malformed produced: \(input.malformedCount), in orders.dlq: \(check.deadLetters))
            lag after shutdown: \(check.lag)
            throughput: \(progress.throughput) records/s
            result: \(ok ? "OK" : "FAILED")
            """)
        guard ok else { throw ExitCode.failure }
    }
}
