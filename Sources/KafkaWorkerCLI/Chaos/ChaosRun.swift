import Foundation
import KafkaClient
import Logging
import Synchronization

/// One chaos run: set up the cluster, the database and the workers; produce while the faults happen; wait for the
/// group to drain; stop the workers; gather the evidence and judge it. Returns the exit status (0 pass, 1 fail,
/// 2 invalid).
struct ChaosRun {
    /// The environment variable a worker reads the PostgreSQL URL from (never on a command line, where `ps` shows it).
    static let postgresURLVariable = "KAFKA_WORKER_CHAOS_POSTGRES_URL"

    let command: ChaosCommand
    let plan: ChaosPlan
    let schedule: ChaosSchedule

    func execute() async throws -> Int32 {
        let logger = Logger(label: "kafka-worker.chaos")
        let started = ContinuousClock.now
        let log: @Sendable (String) -> Void = { text in
            printLine(String(format: "[%6.1fs] ", Double((ContinuousClock.now - started).milliseconds) / 1000) + text)
        }
        let folder = try makeFolder()
        let topic = "chaos-\(plan.run)", group = "chaos-\(plan.run)"
        let deadLetterTopic = topic + ".dlq"

        // The cluster: the embedded one (which the faults act on), or the one given.
        let cluster: EmbeddedKafkaCluster?
        let bootstrap: [String]
        if let servers = command.bootstrapServers {
            cluster = nil
            bootstrap = servers.split(separator: ",").map(String.init)
            let admin = try KafkaAdmin(connection: KafkaConnectionConfiguration(bootstrapServers: bootstrap), logger: logger)
            try await admin.createTopic(topic, partitions: command.partitions, timeout: .seconds(30))
            try await admin.createTopic(deadLetterTopic, partitions: 1, timeout: .seconds(30))
        } else {
            let embedded = try EmbeddedKafkaCluster(brokers: command.brokers, logger: logger)
            try embedded.createTopic(topic, partitions: command.partitions, replicationFactor: min(3, command.brokers))
            try embedded.createTopic(deadLetterTopic, partitions: 1, replicationFactor: min(3, command.brokers))
            cluster = embedded
            bootstrap = embedded.bootstrapServers
        }
        defer { cluster?.stop() }
        let database: ChaosDatabase = command.postgres.map { .postgres(url: $0) }
            ?? .sqlite(path: command.database ?? folder.appendingPathComponent("chaos.db").path)
        let table = "chaos_effects_\(plan.run)"
        try await ChaosStore.prepare(database, table: table, keys: Array(Set(plan.entries.map(\.order.key))).sorted(), logger: logger)
        log("cluster \(cluster == nil ? "at " + bootstrap.joined(separator: ",") : "embedded (\(command.brokers) brokers)"), "
            + "\(KafkaLibrary.version); \(database.name), table \(table); logs in \(folder.path)")

        let slots = (0..<command.workers).map { index in
            ChaosWorkerSlot(index: index, executable: Self.executable, folder: folder,
                            environment: command.postgres.map { [Self.postgresURLVariable: $0] } ?? [:]) { name in
                workerArguments(name: name, bootstrap: bootstrap, topic: topic, group: group, table: table, database: database)
            }
        }
        let faults = ChaosFaults(slots: slots, cluster: cluster, topic: topic, group: group,
                                 postgresRestart: command.postgresRestartCommand, log: log)
        let topics = ChaosTopics(bootstrapServers: bootstrap, topic: topic, deadLetterTopic: deadLetterTopic,
                                 partitions: command.partitions, logger: logger)
        defer { for slot in slots { slot.send(SIGKILL) } }
        // Interrupted: no worker may outlive the harness (a frozen one could not notice its parent is gone).
        let interrupted = Task {
            for await signal in TerminationSignals() {
                log("\(TerminationSignals.name(signal)): killing the workers; the run is not judged")
                for slot in slots { slot.send(SIGKILL) }
                // Die of the signal itself, so a calling shell sees an interrupted command and stops too. Sent to the
                // process, not raised in this thread: Swift's threads block SIGINT and SIGTERM, and a signal raised in
                // one of them would stay pending there.
                Foundation.signal(signal, SIG_DFL)
                kill(getpid(), signal)
                try? await Task.sleep(for: .seconds(5))
                ProcessEnd.exit(128 + signal, clientsWithin: .zero)
            }
        }
        defer { interrupted.cancel() }
        for slot in slots { try slot.start() }

        // Workers that exit on their own are restarted (and counted); the faults' own restarts are theirs.
        let supervising = Mutex(true)
        let supervisor = Task {
            var lastReport = ContinuousClock.now
            var restarts = 0
            while supervising.withLock({ $0 }) {
                for slot in slots where slot.running == nil && !faults.isBusy(slot.index) && supervising.withLock({ $0 }) {
                    let last = slot.exits.withLock { $0.last?.description ?? "did not start" }
                    // A worker that cannot run at all would be restarted forever: after 50, leave it down (reported).
                    guard restarts < 50 else { continue }
                    restarts += 1
                    log("worker \(slot.index) exited on its own (\(last)); restarting")
                    try? slot.start()
                }
                if ContinuousClock.now - lastReport >= .seconds(5), let progress = try? await topics.progress(group: group) {
                    lastReport = ContinuousClock.now
                    let committed = progress.reduce(Int64(0)) { $0 + max(0, $1.committed) }
                    log("committed \(committed) of \(progress.reduce(Int64(0)) { $0 + $1.end }) records")
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }

        // The observer samples the committed offsets until the workers are stopped.
        let observing = Mutex(true)
        let observer = Task { try await topics.observeCommits(group: group, every: .milliseconds(250)) { !observing.withLock { $0 } } }
        defer {
            supervising.withLock { $0 = false }
            supervisor.cancel()
            observing.withLock { $0 = false }
        }

        // The fault phase: produce over its first 60 %, and apply each fault at its time.
        log("producing \(plan.entries.count) orders; \(schedule.faults.count) faults over \(command.duration.value)")
        let phaseStart = ContinuousClock.now
        async let acked = topics.produce(plan.records(topic: topic), over: command.duration.value * 0.6)
        await withDiscardingTaskGroup { group in
            for fault in schedule.faults {
                group.addTask {
                    try? await Task.sleep(until: phaseStart + fault.at, clock: .continuous)
                    await faults.apply(fault)
                }
            }
        }
        let produced = try await acked
        try? await Task.sleep(until: phaseStart + command.duration.value, clock: .continuous)
        let faultPhase = ContinuousClock.now - phaseStart
        faults.clearInjectedErrors()
        log("faults over; waiting for the group to commit every partition to its end (at most \(command.drainTimeout.value))")
        let drained = await topics.waitForDrain(group: group, ackedEnds: produced.ends, within: command.drainTimeout.value)
        let drainTime = ContinuousClock.now - phaseStart - faultPhase
        log(drained ? "drained" : "not drained within \(command.drainTimeout.value)")
        supervising.withLock { $0 = false }
        await supervisor.value

        // Stop every worker gracefully; one that does not exit in time is killed and reported.
        for slot in slots { slot.send(SIGTERM) }
        var unclean: [ChaosExit] = []
        for slot in slots where await slot.waitForExit(within: .seconds(40)) == nil {
            let name = slot.running?.name ?? "w\(slot.index)"
            slot.send(SIGKILL)
            unclean.append(ChaosExit(name: name, signal: SIGKILL, status: 0, sent: SIGTERM))
        }
        observing.withLock { $0 = false }
        let samples = (try? await observer.value) ?? []
        log("workers stopped; gathering the evidence (\(samples.count) commit samples)")

        var evidence = try await gather(topics: topics, group: group, database: database, table: table, slots: slots,
                                        acked: produced.ids, faults: faults, unclean: unclean + faults.unclean.withLock { $0 },
                                        logger: logger)
        evidence.commitSamples = samples
        evidence.drained = drained
        evidence.faultFailures = faults.failures.withLock { $0 }
        evidence.expectedSamples = Int(faultPhase.milliseconds / 1000)
        evidence.scheduledFaults = schedule.faults.count
        let verdict = ChaosVerdict(evidence)
        printReport(verdict, evidence: evidence, faults: faults, slots: slots,
                    faultPhase: faultPhase, drainTime: drained ? drainTime : nil, total: ContinuousClock.now - started)
        if verdict.passed && command.workDir == nil { try? FileManager.default.removeItem(at: folder) }
        return verdict.invalidReason != nil ? 2 : verdict.passed ? 0 : 1
    }

    private func workerArguments(name: String, bootstrap: [String], topic: String, group: String, table: String,
                                 database: ChaosDatabase) -> [String] {
        var arguments = ["chaos-worker", "--bootstrap-servers", bootstrap.joined(separator: ","), "--topic", topic,
                         "--group", group, "--table", table, "--name", name, "--ordering", command.ordering,
                         "--concurrency", "\(command.concurrency)", "--seed", "\(command.seed)",
                         "--transient-percent", "\(command.transientPercent)", "--handler-latency-ms", "\(command.handlerLatencyMs)",
                         "--session-timeout-ms", "\(command.sessionTimeoutMs)", "--parent-pid", "\(getpid())",
                         "--log-format", "json", "--log-level", "warning"]
        if let sabotage = command.sabotage { arguments += ["--sabotage", sabotage] }
        switch database {
        case .sqlite(let path): arguments += ["--database", path]
        case .postgres: arguments += ["--postgres-url-from-environment"]
        }
        return arguments
    }

    private func gather(topics: ChaosTopics, group: String, database: ChaosDatabase, table: String, slots: [ChaosWorkerSlot],
                        acked: Set<String>, faults: ChaosFaults, unclean: [ChaosExit], logger: Logger) async throws -> ChaosEvidence {
        let progress = try await topics.progress(group: group)
        let onTopic = try await topics.readAll(topics.topic, partitions: command.partitions)
        let letters = try await topics.readAll(topics.deadLetterTopic, partitions: 1)
        let effects = try await ChaosStore.effects(database, table: table, logger: logger)
        var copies: [String: Int] = [:]
        var lastRead: [Int32: Int64] = [:]
        var positions: [Int32: [ChaosTopics.Position]] = [:]
        for record in onTopic.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            copies[record.id ?? "(no id)", default: 0] += 1
            lastRead[record.partition] = max(lastRead[record.partition] ?? -1, record.offset)
            positions[record.partition, default: []].append(record)
        }
        // The end of a partition is what was read back; a broker whose high watermark says less is reported.
        let ends = progress.map { ($0.partition, max($0.end, (lastRead[$0.partition] ?? -1) + 1)) }
        let short = progress.filter { $0.end < (lastRead[$0.partition] ?? -1) + 1 }
            .map { "partition \($0.partition): high watermark \($0.end), last offset read \(lastRead[$0.partition]!)" }
        let applied = faults.applied.withLock { $0 }
        return ChaosEvidence(
            planned: Set(plan.entries.map(\.order.id)), poison: plan.poisonIDs, acked: acked, onTopic: copies,
            truncatedPartitions: progress.filter { $0.low > 0 }.map(\.partition),
            effects: effects, deadLetters: letters.map { $0.id ?? "(no id)" },
            uncommitted: zip(progress, ends).filter { $1.1 > 0 && $0.committed != $1.1 }.map { ($0.partition, $0.committed, $1.1) },
            unexpectedExits: slots.flatMap { $0.exits.withLock { $0 } }.filter { !$0.expected } + unclean,
            fatalLines: slots.flatMap { Self.fatalLines(in: $0.logFiles) },
            brokerFindings: short.isEmpty ? [] : ["the broker's high watermark is below the records it served: "
                                                  + short.joined(separator: "; ")],
            positions: positions,
            deadLetterOrigins: Set(letters.compactMap(\.origin)),
            checksOrder: command.ordering != "unordered",
            disruptions: (applied[.kill] ?? 0) + (applied[.zombie] ?? 0) + (applied[.term] ?? 0),
            appliedFaults: applied.values.reduce(0, +))
    }

    /// Lines of a crash or a critical failure in the workers' logs: a JSON log line at level critical, or the Swift
    /// runtime's own report of a trap (it writes to standard error, which goes to the same file).
    static func fatalLines(in files: [URL]) -> [String] {
        files.flatMap { file -> [String] in
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").filter { line in
                line.hasPrefix("{") ? line.contains("\"level\":\"critical\"")
                    : line.hasPrefix("Fatal error:") || line.contains(": Fatal error: ") || line.contains("Program crashed")
            }.map { "\(file.lastPathComponent): \($0.prefix(300))" }
        }
    }

    private func printReport(_ verdict: ChaosVerdict, evidence: ChaosEvidence, faults: ChaosFaults, slots: [ChaosWorkerSlot],
                             faultPhase: Duration, drainTime: Duration?, total: Duration) {
        let exits = slots.flatMap { $0.exits.withLock { $0 } }
        let applied = faults.applied.withLock { $0 }.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
        let seconds = { (d: Duration) in String(format: "%.1f s", Double(d.milliseconds) / 1000) }
        let rows: [(String, String)] = [
            ("orders", "\(plan.entries.count) (\(plan.poisonIDs.count) poison), \(evidence.acked.count) acknowledged"),
            ("on the topic", "\(evidence.onTopic.values.reduce(0, +)) records, \(verdict.producerDuplicates) second copies"),
            ("applied", "\(verdict.applied) orders, \(evidence.effects.count) effect rows"),
            ("dead-lettered", "\(verdict.deadLettered) orders, \(evidence.deadLetters.count) records "
                + "(\(verdict.extraDeadLetterCopies) extra copies of redelivered poison records; "
                + "\(evidence.disruptions) kills, zombies and graceful restarts)"),
            ("faults applied", applied.isEmpty ? "none" : applied.joined(separator: ", ")),
            ("worker exits", "\(exits.count) (\(exits.filter(\.expected).count) asked for by the harness)"),
            ("fault phase", seconds(faultPhase)),
            ("drain", drainTime.map(seconds) ?? "did not finish"),
            ("total", seconds(total)),
        ]
        printLine("")
        for (name, value) in rows { printLine("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + value) }
        for line in verdict.details() { printLine(line) }
        printLine(verdict.line)
    }

    private func makeFolder() throws -> URL {
        let folder = command.workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("kafka-worker-chaos-\(plan.run)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static var executable: URL {
        Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
    }
}
