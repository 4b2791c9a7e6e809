import ArgumentParser
import Foundation
import KafkaClient
import KafkaWorker
import Logging

/// `kafka-worker chaos-worker`: one member of a chaos run's group (started by `kafka-worker chaos`, not by hand).
/// Applies each order to the database in one transaction with its idempotency marker and an effects-log row;
/// poison orders fail for good (dead-lettered), some first attempts fail transiently (retried).
struct ChaosWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-worker",
        abstract: "A worker process of `kafka-worker chaos` (started by it).",
        shouldDisplay: false)

    @Option(name: .long) var bootstrapServers: String
    @Option(name: .long) var topic: String
    @Option(name: .long) var group: String
    @Option(name: .long) var database: String?
    /// The PostgreSQL URL is in the environment (`ChaosRun.postgresURLVariable`), never on the command line.
    @Flag(name: .long) var postgresUrlFromEnvironment = false
    @Option(name: .long) var table: String
    @Option(name: .long) var name: String
    @Option(name: .long) var ordering: String = "key"
    @Option(name: .long) var concurrency: Int = 8
    @Option(name: .long) var seed: UInt64 = 1
    @Option(name: .long) var transientPercent: Double = 0
    @Option(name: .long) var handlerLatencyMs: Int = 0
    @Option(name: .long) var sessionTimeoutMs: Int = 6_000
    /// The harness's process id: a worker whose parent is gone exits (nothing is left running after a harness crash).
    @Option(name: .long) var parentPid: Int32?
    @Option(name: .long) var sabotage: String?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard OrderingMode(name: ordering) != nil else {
            throw ValidationError("--ordering \"\(ordering)\" is not one of: partition, key, unordered")
        }
        guard (database == nil) == postgresUrlFromEnvironment else {
            throw ValidationError("give exactly one of --database (SQLite) and --postgres-url-from-environment (PostgreSQL)")
        }
    }

    func run() async throws {
        try logging.bootstrap()
        var logger = Logger(label: "kafka-worker.chaos-worker")
        logger[metadataKey: "worker"] = "\(name)"
        var configuration = WorkerConfiguration(bootstrapServers: bootstrapServers.split(separator: ",").map(String.init),
                                                groupID: group, topics: [topic])
        configuration.ordering = OrderingMode(name: ordering)!
        configuration.maxConcurrency = concurrency
        configuration.maxBatchSize = 50
        configuration.consumer.session.timeout = .milliseconds(sessionTimeoutMs)
        configuration.consumer.session.heartbeatInterval = .milliseconds(max(100, sessionTimeoutMs / 6))
        configuration.consumer.fetch.maxWait = .milliseconds(100)
        configuration.consumer.commit.interval = .seconds(1)
        configuration.consumer.rebalanceHookTimeout = .seconds(15)
        configuration.revokeDrainTimeout = .seconds(10)
        configuration.shutdownGracePeriod = .seconds(10)
        configuration.summaryInterval = .seconds(10)
        configuration.retry = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(500))
        // The harness creates the dead-letter topic; no admin round trips at start.
        configuration.deadLetter.createTopics = false
        let settings = ChaosHandlerSettings(table: table, worker: name, seed: seed, transientPercent: transientPercent,
                                            latency: .milliseconds(handlerLatencyMs), sabotage: sabotage.flatMap(ChaosSabotage.init))
        let target: ChaosDatabase
        if let database {
            target = .sqlite(path: database)
        } else {
            guard let url = ProcessInfo.processInfo.environment[ChaosRun.postgresURLVariable] else {
                throw ValidationError("\(ChaosRun.postgresURLVariable) is not set")
            }
            target = .postgres(url: url)
        }
        if let parentPid { Self.watchParent(parentPid, logger: logger) }
        try await ChaosStore.withWorker(target, configuration: configuration, settings: settings, logger: logger) { [logger, name] worker in
            let signals = handleTerminationSignals(for: worker, logger: logger)
            defer { signals.cancel() }
            try await worker.run()
            printLine("chaos-worker \(name) stopped: " + SinkCommand.totals(worker.statistics))
        }
    }

    /// Exits when the harness is gone (its pid is no longer the parent): a run interrupted by SIGKILL leaves no workers.
    private static func watchParent(_ pid: Int32, logger: Logger) {
        let thread = Thread {
            while getppid() == pid { Thread.sleep(forTimeInterval: 0.5) }
            logger.error("the chaos harness is gone; exiting")
            ProcessEnd.exit(4, clientsWithin: .zero)
        }
        thread.name = "chaos-parent-watch"
        thread.start()
    }
}
