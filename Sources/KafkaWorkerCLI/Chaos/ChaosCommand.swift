import ArgumentParser
import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerSQLite
import Logging

/// `kafka-worker chaos`: runs a fault scenario against a group of worker processes and judges it.
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Run worker processes under faults, then check that nothing was lost, applied twice or reordered.",
        discussion: """
            Produces --records orders (unique ids, a sequence number per key, some produced twice at a later offset, \
            some poison: malformed or rejected by a business rule) while --workers `kafka-worker chaos-worker` processes \
            of one group apply them to SQLite or PostgreSQL: each order's effect and its idempotency marker in one \
            transaction, plus a row in an effects log without a unique constraint. Meanwhile a fault schedule drawn \
            from --seed kills, freezes (SIGSTOP past the session timeout) and restarts workers, takes brokers down, \
            injects request errors, moves coordinators and leaders, slows brokers and restarts PostgreSQL. When the \
            faults stop and the group has committed every partition to its end, the workers are stopped and the \
            checker reports lost orders, duplicate effects, per-key order violations, unexpected and missing dead \
            letters, uncommitted partitions and crashes. Exit status 0 on PASS, 1 on any violation, 2 when the run \
            is invalid (the broker dropped data). The same seed gives the same orders and the same schedule.
            """)

    @Option(name: .long, help: "Orders to produce.") var records: Int = 20_000
    @Option(name: .long, help: "Partitions of the topic.") var partitions: Int = 6
    @Option(name: .long, help: "Distinct keys (each key's orders carry a sequence number).") var keys: Int = 200
    @Option(name: .long, help: "Worker processes in the group.") var workers: Int = 3
    @Option(name: .long, help: "Seed of the orders and the fault schedule.") var seed: UInt64 = 1
    @Option(name: .long, help: "Length of the fault phase, e.g. 60s, 10m.") var duration: ChaosDuration = ChaosDuration(.seconds(60))
    @Option(name: .long, help: "Mean time between faults, e.g. 3s.") var faultInterval: ChaosDuration = ChaosDuration(.seconds(4))
    @Option(name: .long, help: """
        Fault kinds, comma-separated: \(ChaosFaultKind.allCases.map(\.rawValue).joined(separator: ",")), or none. \
        Default: all that apply (broker faults need the embedded cluster, postgres needs --postgres-restart-command).
        """)
    var faults: String?
    @Option(name: .long, help: "partition, key or unordered (per-key order is checked for the first two).") var ordering: String = "key"
    @Option(name: .long, help: "maxConcurrency of each worker.") var concurrency: Int = 8
    @Option(name: .long, help: "Percent of orders that are poison (half malformed, half rejected).") var poisonPercent: Double = 0.5
    @Option(name: .long, help: "Percent of orders produced twice (same id, later offset).") var duplicatePercent: Double = 2
    @Option(name: .long, help: "Percent of orders whose first attempt fails with a transient error.") var transientPercent: Double = 2
    @Option(name: .long, help: "Simulated work per order, in milliseconds.") var handlerLatencyMs: Int = 1
    @Option(name: .long, help: "SQLite database file (default: one in the run's folder).") var database: String?
    @Option(name: .long, help: "PostgreSQL instead of SQLite: postgres://user:password@host:port/database (never printed).")
    var postgresUrl: String?
    @Flag(name: .long, help: ArgumentHelp(
        "Read the PostgreSQL URL from \(ChaosRun.postgresURLVariable) (keeps the password off the command line, where ps shows it)."))
    var postgresUrlFromEnvironment = false
    @Option(name: .long, help: "A shell command that restarts PostgreSQL (enables the postgres fault).") var postgresRestartCommand: String?
    @Option(name: .long, help: "An existing Kafka cluster instead of the embedded one (only process and PostgreSQL faults then).")
    var bootstrapServers: String?
    @Option(name: .long, help: "Brokers of the embedded cluster.") var brokers: Int = 3
    @Option(name: .long, help: "session.timeout.ms of the workers.") var sessionTimeoutMs: Int = 6_000
    @Option(name: .long, help: "How long to wait for the group to commit everything after the faults, e.g. 120s.")
    var drainTimeout: ChaosDuration = ChaosDuration(.seconds(150))
    @Option(name: .long, help: "Folder for the workers' logs and the SQLite file (default: a new temporary folder).") var workDir: String?
    @Flag(name: .long, help: "Print the orders' figures and the fault schedule, then exit.") var dryRun = false
    @Option(name: .long, help: .hidden) var sabotage: String?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try Self.range("--records", records, 1...10_000_000)
        try Self.range("--partitions", partitions, 1...1_000)
        try Self.range("--keys", keys, 1...1_000_000)
        try Self.range("--workers", workers, 1...32)
        try Self.range("--brokers", brokers, 1...32)
        try Self.range("--concurrency", concurrency, 1...10_000)
        try Self.range("--handler-latency-ms", handlerLatencyMs, 0...60_000)
        try Self.range("--session-timeout-ms", sessionTimeoutMs, 1_000...300_000)
        for (name, value) in [("--poison-percent", poisonPercent), ("--duplicate-percent", duplicatePercent),
                              ("--transient-percent", transientPercent)] where !(0...100).contains(value) {
            throw ValidationError("\(name) \(value) is outside the accepted range 0...100")
        }
        guard OrderingMode(name: ordering) != nil else {
            throw ValidationError("--ordering \"\(ordering)\" is not one of: partition, key, unordered")
        }
        let urls = [postgresUrl != nil, postgresUrlFromEnvironment].filter { $0 }.count
        guard urls + (database == nil ? 0 : 1) <= 1 else {
            throw ValidationError("give at most one of --database, --postgres-url and --postgres-url-from-environment")
        }
        if postgresUrlFromEnvironment, ProcessInfo.processInfo.environment[ChaosRun.postgresURLVariable] == nil {
            throw ValidationError("--postgres-url-from-environment: \(ChaosRun.postgresURLVariable) is not set")
        }
        if let url = postgres { _ = try PostgresURL.configuration(url) }
        guard faultInterval.value >= .milliseconds(100) else { throw ValidationError("--fault-interval must be at least 100ms") }
        guard duration.value <= .seconds(86_400), drainTimeout.value <= .seconds(86_400) else {
            throw ValidationError("--duration and --drain-timeout must be at most 24h")
        }
        _ = try faultKinds()
        if let sabotage, ChaosSabotage(rawValue: sabotage) == nil {
            throw ValidationError("--sabotage \"\(sabotage)\" is not one of: " + ChaosSabotage.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    static func range(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(name) \(value) is outside the accepted range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// The PostgreSQL URL, from the option or the environment.
    var postgres: String? {
        postgresUrl ?? (postgresUrlFromEnvironment ? ProcessInfo.processInfo.environment[ChaosRun.postgresURLVariable] : nil)
    }

    /// The fault kinds of this run; explicit kinds that cannot apply are refused, naming why.
    func faultKinds() throws -> [ChaosFaultKind] {
        let usable: (ChaosFaultKind) -> String? = { kind in
            if kind.needsEmbeddedCluster && bootstrapServers != nil { return "needs the embedded cluster (no --bootstrap-servers)" }
            if kind == .postgres && (postgres == nil || postgresRestartCommand == nil) {
                return "needs --postgres-url and --postgres-restart-command"
            }
            return nil
        }
        guard let faults else { return ChaosFaultKind.allCases.filter { usable($0) == nil } }
        if faults == "none" { return [] }
        return try faults.split(separator: ",").map { name in
            guard let kind = ChaosFaultKind(rawValue: String(name)) else {
                throw ValidationError("--faults: \"\(name)\" is not one of: "
                                      + ChaosFaultKind.allCases.map(\.rawValue).joined(separator: ", ") + ", none")
            }
            if let reason = usable(kind) { throw ValidationError("--faults: \(kind.rawValue) \(reason)") }
            return kind
        }
    }

    func run() async throws {
        try logging.bootstrap()
        let plan = ChaosPlan(run: "c\(seed)x" + UUID().uuidString.prefix(6).lowercased(), seed: seed, records: records, keys: keys,
                             partitions: partitions, poisonPercent: poisonPercent, duplicatePercent: duplicatePercent,
                             transientPercent: transientPercent)
        let schedule = ChaosSchedule(seed: seed, settings: .init(
            duration: duration.value, meanInterval: faultInterval.value, kinds: try faultKinds(), workers: workers,
            brokers: bootstrapServers == nil ? brokers : 1, partitions: partitions, sessionTimeout: .milliseconds(sessionTimeoutMs)))
        printLine("chaos: seed \(seed), \(records) orders (\(plan.poisonIDs.count) poison, "
                  + "\(plan.entries.filter { $0.duplicateAfter != nil }.count) produced twice), \(keys) keys, "
                  + "\(partitions) partitions, \(workers) workers, ordering \(ordering), \(schedule.faults.count) faults "
                  + "over \(duration.value)")
        printLine("fault schedule:")
        for fault in schedule.faults { printLine("  " + fault.description) }
        if dryRun { return }
        let exitCode = try await ChaosRun(command: self, plan: plan, schedule: schedule).execute()
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

/// A duration option: `500ms`, `90s`, `10m`, `1h`, or plain seconds.
struct ChaosDuration: ExpressibleByArgument, Sendable {
    let value: Duration
    init(_ value: Duration) { self.value = value }
    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3_600)]
        let unit = units.first { argument.hasSuffix($0.0) && Double(argument.dropLast($0.0.count)) != nil }
        guard let number = Double(unit.map { String(argument.dropLast($0.0.count)) } ?? argument), number >= 0 else { return nil }
        value = .milliseconds(Int64(number * (unit?.1 ?? 1) * 1_000))
    }
    var defaultValueDescription: String { "\(value.milliseconds / 1000)s" }
}
