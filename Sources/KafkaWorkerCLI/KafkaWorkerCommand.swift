import ArgumentParser

@main
struct KafkaWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-worker",
        abstract: "Kafka consumer services that never lose a message: tools and an embedded Kafka.",
        subcommands: [DemoCommand.self, BrokerCommand.self, SinkCommand.self, BenchCommand.self])
}
