import ArgumentParser
import KafkaClient
import Logging

/// `kafka-worker demo`: an embedded cluster, sample orders produced, consumed with at-least-once commits,
/// and a check that every order arrived once, in order per partition, with the group's lag at 0.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Produce sample orders to an embedded Kafka and consume them with committed offsets.")

    @Option(name: .long, help: "Number of orders to produce.")
    var orders: Int = 100_000

    @Option(name: .long, help: "Partitions of the orders topic.")
    var partitions: Int = 6

    @Flag(name: .long, help: "Keep the embedded cluster up after the summary, until SIGINT or SIGTERM.")
    var keepRunning = false

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard orders >= 1 else { throw ValidationError("--orders must be at least 1") }
        guard (1...64).contains(partitions) else { throw ValidationError("--partitions must be in 1...64") }
    }

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "kafka-worker.demo")
        let signals = TerminationSignals()
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: logger)
        defer { cluster.stop() }
        try cluster.createTopic("orders", partitions: partitions)
        printLine("bootstrap.servers=\(cluster.bootstrapServersString)")

        let clock = ContinuousClock()
        let produceStart = clock.now
        try await DemoOrders.produce(count: orders, to: cluster.bootstrapServers, logger: logger)
        let produceTime = clock.now - produceStart
        printLine("produced \(orders) orders in \(format(produceTime))")

        let result = try await DemoRoundTrip(
            bootstrapServers: cluster.bootstrapServers, topic: "orders", partitions: partitions, expected: orders,
            logger: logger
        ).run()
        printLine(result.summary)
        guard result.isComplete else { throw ExitCode.failure }

        if keepRunning {
            printLine("keeping the embedded cluster up; SIGINT or SIGTERM stops it")
            for await _ in signals { break }
        }
    }
}

func format(_ duration: Duration) -> String {
    let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return ms < 1000 ? "\(Int(ms)) ms" : "\((ms / 10).rounded() / 100) s"
}
