import ArgumentParser
import KafkaClient
import Logging

/// `kafka-worker broker`: the embedded Kafka cluster as a process other clients can use.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka cluster on 127.0.0.1 until SIGINT or SIGTERM.",
        discussion: """
            Prints bootstrap.servers=<list> as the first line on standard output. Any Kafka client \
            (kcat, Python clients, other workers) can produce to it and consume from it. It keeps data \
            in memory only; topics are created with --topic (auto-created topics get 4 partitions).
            """)

    @Option(name: .long, help: "Number of brokers (1...32).")
    var brokers: Int = 1

    @Option(name: .customLong("topic"), help: "A topic to create, as NAME:PARTITIONS (repeatable).")
    var topics: [TopicSpec] = []

    @Option(name: .long, help: "Also write bootstrap.servers=<list> to this file.")
    var bootstrapFile: String?

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard (1...32).contains(brokers) else { throw ValidationError("--brokers \(brokers) is outside 1...32") }
    }

    func run() async throws {
        try logging.bootstrap()
        let logger = Logger(label: "kafka-worker.broker")
        let signals = TerminationSignals()
        let cluster = try EmbeddedKafkaCluster(brokers: brokers, logger: logger)
        for topic in topics {
            try cluster.createTopic(topic.name, partitions: topic.partitions)
            logger.info("topic created", metadata: ["topic": "\(topic.name)", "partitions": "\(topic.partitions)"])
        }
        let line = "bootstrap.servers=\(cluster.bootstrapServersString)"
        if let bootstrapFile {
            try writeFileAtomically(bootstrapFile, contents: line + "\n")
        }
        printLine(line)
        for await signal in signals {
            logger.info("stopping embedded cluster", metadata: ["signal": "\(TerminationSignals.name(signal))"])
            break
        }
        cluster.stop()
    }
}

/// `NAME:PARTITIONS`, e.g. `orders:6`.
struct TopicSpec: ExpressibleByArgument, Sendable {
    var name: String
    var partitions: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"),
              let partitions = Int(argument[argument.index(after: colon)...]), partitions > 0,
              colon != argument.startIndex
        else { return nil }
        self.name = String(argument[..<colon])
        self.partitions = partitions
    }

    static var defaultValueDescription: String { "NAME:PARTITIONS" }
}
