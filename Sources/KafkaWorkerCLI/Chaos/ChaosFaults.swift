import Foundation
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
                    slot.send(SIGKILL)
                    _ = await slot.waitForExit(within: .seconds(10))
                    try await Task.sleep(for: restartAfter)
                    try slot.start()
                }
            case .zombie(let worker, let stoppedFor):
                try await withWorker(worker, fault) { slot in
                    slot.send(SIGSTOP)
                    try await Task.sleep(for: stoppedFor)
                    slot.send(SIGCONT)
                }
            case .term(let worker):
                try await withWorker(worker, fault) { slot in
                    slot.send(SIGTERM)
                    // The worker's own bound: grace period (10 s) + close bound (20 s); then it is killed.
                    if await slot.waitForExit(within: .seconds(35)) == nil {
                        log("worker \(worker) did not exit within 35 s of SIGTERM; killing it")
                        slot.send(SIGKILL)
                        _ = await slot.waitForExit(within: .seconds(10))
                    }
                    try slot.start()
                }
            case .brokerDown(let broker, let downFor):
                let cluster = try embedded()
                record(fault)
                try cluster.setBrokerDown(broker)
                try await Task.sleep(for: downFor)
                try cluster.setBrokerUp(broker)
            case .requestErrors(let api, let errors):
                record(fault)
                try embedded().injectRequestErrors(errors, for: api)
            case .coordinator(let broker):
                record(fault)
                try embedded().setGroupCoordinator(group: group, broker: broker)
            case .leader(let partition, let broker):
                record(fault)
                try embedded().setPartitionLeader(topic: topic, partition: partition, broker: broker)
            case .rtt(let broker, let rtt, let lasting):
                let cluster = try embedded()
                record(fault)
                try cluster.setBrokerRoundTripTime(broker, rtt)
                try await Task.sleep(for: lasting)
                try cluster.setBrokerRoundTripTime(broker, .zero)
            case .postgresRestart:
                guard let postgresRestart else { throw ChaosFailure("no --postgres-restart-command for a PostgreSQL restart") }
                record(fault)
                try await Self.runShell(postgresRestart, within: .seconds(60))
            }
        } catch {
            log("fault \(fault.description.trimmingCharacters(in: .whitespaces)) failed: \(error)")
        }
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
        record(fault)
        try await body(slots[index])
    }

    private func record(_ fault: ChaosFault) {
        applied.withLock { $0[fault.kind, default: 0] += 1 }
        log(fault.description.trimmingCharacters(in: .whitespaces))
    }

    private func embedded() throws -> EmbeddedKafkaCluster {
        guard let cluster else { throw ChaosFailure("this fault needs the embedded cluster") }
        return cluster
    }

    /// Runs `command` with /bin/sh; fails on a non-zero status or when it takes longer than `limit`.
    static func runShell(_ command: String, within limit: Duration) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = FileHandle.nullDevice
        let latch = ExitLatch()
        process.terminationHandler = { process in
            latch.resolve(ChaosExit(name: "sh", signal: nil, status: process.terminationStatus, sent: nil))
        }
        try process.run()
        let exit = await latch.wait(within: limit)
        guard let exit else {
            process.terminate()
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
