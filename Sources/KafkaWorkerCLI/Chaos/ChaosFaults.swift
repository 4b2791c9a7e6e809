import Foundation
import KafkaWorkerTesting
import KafkaClient
import Logging
import Synchronization

/// Applies a run's faults: to worker processes (signals), to the embedded cluster (its fault API) and to
/// PostgreSQL (the restart command). Each fault runs to its end (a broker comes back up, a zombie is continued,
/// a killed worker restarted); a process fault on a worker another fault is still busy with is skipped.
final class ChaosFaults: Sendable {
    let slots: [ChaosWorkerSlot]
    let cluster: EmbeddedKafkaCluster?
    let topic: String
    let group: String
    let postgresRestart: String?
    let log: @Sendable (String) -> Void
    private let busy = Mutex<Set<Int>>([])
    /// Counts by kind of the faults applied (skipped ones are not counted).
    let applied = Mutex<[ChaosFaultKind: Int]>([:])
    /// Faults that could not be applied (the run then proves less than it says: reported as invalid).
    let failures = Mutex<[String]>([])
    /// Graceful restarts whose worker did not exit in time and was killed (a stop that hangs is a failure).
    let unclean = Mutex<[ChaosExit]>([])

    init(slots: [ChaosWorkerSlot], cluster: EmbeddedKafkaCluster?, topic: String, group: String, postgresRestart: String?,
         log: @escaping @Sendable (String) -> Void) {
        self.slots = slots
        self.cluster = cluster
        self.topic = topic
        self.group = group
        self.postgresRestart = postgresRestart
        self.log = log
    }

    /// Whether a process fault is under way on worker `index` (the supervisor leaves such a worker alone).
    func isBusy(_ index: Int) -> Bool { busy.withLock { $0.contains(index) } }

    func apply(_ fault: ChaosFault) async {
        do {
            switch fault.action {
            case .kill(let worker, let restartAfter):
                try await withWorker(worker, fault) { slot in
                    try Self.signal(slot, SIGKILL)
                    _ = await slot.waitForExit(within: .seconds(10))
                    try await Task.sleep(for: restartAfter)
                    try slot.start()
                }
            case .zombie(let worker, let stoppedFor):
                try await withWorker(worker, fault) { slot in
                    try Self.signal(slot, SIGSTOP)
                    try? await Task.sleep(for: stoppedFor)
                    try Self.signal(slot, SIGCONT)
                }
            case .term(let worker):
                try await withWorker(worker, fault) { slot in
                    try Self.signal(slot, SIGTERM)
                    // The worker's own bound: grace period (10 s) + close bound (20 s); then it is killed.
                    if await slot.waitForExit(within: .seconds(35)) == nil {
                        log("worker \(worker) did not exit within 35 s of SIGTERM; killing it")
                        let name = slot.running?.name ?? "w\(worker)"
                        if let pid = slot.running?.pid { await Self.dumpStacks(pid: pid, to: slot.folder.appendingPathComponent("\(name).stacks.txt"), log: log) }
                        slot.send(SIGKILL)
                        _ = await slot.waitForExit(within: .seconds(10))
                        unclean.withLock { $0.append(ChaosExit(name: name, signal: SIGKILL, status: 0, sent: SIGTERM)) }
                    }
                    try slot.start()
                }
            case .brokerDown(let broker, let downFor):
                let cluster = try embedded()
                try cluster.setBrokerDown(broker)
                record(fault)
                try await Task.sleep(for: downFor)
                try cluster.setBrokerUp(broker)
            case .requestErrors(let api, let errors):
                try embedded().injectRequestErrors(errors, for: api)
                record(fault)
            case .coordinator(let broker):
                try embedded().setGroupCoordinator(group: group, broker: broker)
                record(fault)
            case .leader(let partition, let broker):
                try embedded().setPartitionLeader(topic: topic, partition: partition, broker: broker)
                record(fault)
            case .rtt(let broker, let rtt, let lasting):
                let cluster = try embedded()
                try cluster.setBrokerRoundTripTime(broker, rtt)
                record(fault)
                try await Task.sleep(for: lasting)
                try cluster.setBrokerRoundTripTime(broker, .zero)
            case .postgresRestart:
                guard let postgresRestart else { throw ChaosFailure("no --postgres-restart-command for a PostgreSQL restart") }
                try await Self.runShell(postgresRestart, within: .seconds(60))
                record(fault)
            }
        } catch {
            let text = "\(fault.description.trimmingCharacters(in: .whitespaces)): \(error)"
            failures.withLock { $0.append(text) }
            log("fault failed: \(text)")
        }
    }

    /// Forgets request errors injected that no request has taken yet, so they do not outlive the fault phase.
    func clearInjectedErrors() {
        guard let cluster else { return }
        for (api, _) in ChaosSchedule.requestErrors { try? cluster.clearRequestErrors(for: api) }
    }

    private func withWorker(_ index: Int, _ fault: ChaosFault,
                            _ body: @Sendable (ChaosWorkerSlot) async throws -> Void) async throws {
        let claimed = busy.withLock { $0.insert(index).inserted }
        guard claimed, slots[index].running != nil else {
            if claimed { busy.withLock { _ = $0.remove(index) } }
            log("skipped (worker \(index) is busy with another fault): \(fault.description.trimmingCharacters(in: .whitespaces))")
            return
        }
        defer { busy.withLock { _ = $0.remove(index) } }
        try await body(slots[index])
        record(fault)
    }

    private static func signal(_ slot: ChaosWorkerSlot, _ number: Int32) throws {
        guard slot.send(number) else { throw ChaosFailure("worker \(slot.index) was not running for signal \(number)") }
    }

    private func record(_ fault: ChaosFault) {
        applied.withLock { $0[fault.kind, default: 0] += 1 }
        log(fault.description.trimmingCharacters(in: .whitespaces))
    }

    private func embedded() throws -> EmbeddedKafkaCluster {
        guard let cluster else { throw ChaosFailure("this fault needs the embedded cluster") }
        return cluster
    }

    /// Writes every thread's stack of a worker that hangs (gdb, when installed) before it is killed: a hang seen once
    /// says where it hung.
    static func dumpStacks(pid: Int32, to file: URL, log: @Sendable (String) -> Void) async {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return }
        let command = "timeout 60 /usr/bin/gdb -p \(pid) -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 40' > '\(file.path)' 2>&1"
        if (try? await runShell(command, within: .seconds(70))) != nil { log("its threads' stacks: \(file.path)") }
    }

    /// Runs `command` with /bin/sh; fails on a non-zero status or when it takes longer than `limit`.
    static func runShell(_ command: String, within limit: Duration) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = FileHandle.nullDevice
        // The command's output must not hold the harness's pipes open (a reader of our output would wait for it).
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let latch = Latch<ChaosExit>()
        process.terminationHandler = { process in
            latch.resolve(ChaosExit(name: "sh", signal: nil, status: process.terminationStatus, sent: nil))
        }
        try process.run()
        let exit = await latch.wait(within: limit)
        guard let exit else {
            kill(process.processIdentifier, SIGKILL)
            throw ChaosFailure("`\(command)` did not finish within \(limit)")
        }
        guard exit.status == 0 else { throw ChaosFailure("`\(command)` exited with status \(exit.status)") }
    }
}

/// A chaos run could not be set up or carried out (not a verdict).
struct ChaosFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
