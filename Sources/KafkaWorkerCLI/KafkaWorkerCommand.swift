import Foundation
import KafkaClient
import ArgumentParser

@main
struct KafkaWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-worker",
        abstract: "Kafka consumer services that never lose a message: tools and an embedded Kafka.",
        version: "kafka-worker with librdkafka \(KafkaLibrary.version) (loaded at run time)",
        subcommands: [DemoCommand.self, BrokerCommand.self, SinkCommand.self, BenchCommand.self, ChaosCommand.self,
                      ChaosWorkerCommand.self])

    /// Commands that stop gracefully on SIGINT/SIGTERM take the signals over before anything else runs.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if command is SinkCommand || command is DemoCommand || command is BrokerCommand || command is ChaosWorkerCommand {
                TerminationSignals.installEarly()
            }
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser's own report (help and version on standard output, errors on standard error), then the
            // same end as a success.
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { print(message) } else { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            }
            ProcessEnd.exit(code.rawValue)
        }
        ProcessEnd.exit(0)
    }
}
