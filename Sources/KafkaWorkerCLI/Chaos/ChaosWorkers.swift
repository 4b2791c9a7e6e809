import Foundation
import KafkaWorkerTesting
import Synchronization

/// How a worker process ended, and whether the harness asked for it.
struct ChaosExit: Sendable, CustomStringConvertible {
    var name: String
    /// The signal that ended it, or `nil` for a normal exit with `status`.
    var signal: Int32?
    var status: Int32
    /// The signal the harness sent it last (SIGKILL or SIGTERM), if any.
    var sent: Int32?

    /// Ended by the harness's SIGKILL, or exited 0 after its SIGTERM (or died of that SIGTERM before it could take
    /// the signal over, just after its start: nothing was committed, as with a kill).
    var expected: Bool {
        switch (sent, signal) {
        case (SIGKILL, SIGKILL), (SIGTERM, SIGTERM): true
        case (SIGTERM, nil): status == 0
        default: false
        }
    }

    var description: String {
        let how = signal.map { "signal \($0)" } ?? "status \(status)"
        return "\(name): \(how)" + (sent.map { " (harness sent signal \($0))" } ?? " (not asked to stop)")
    }
}

/// One worker slot of a chaos run: a `kafka-worker chaos-worker` process, restarted as the schedule says.
/// Each incarnation logs to a file of its own in the run's folder.
final class ChaosWorkerSlot: Sendable {
    let index: Int
    private let executable: URL
    private let arguments: @Sendable (String) -> [String]
    let folder: URL
    /// Added to the harness's environment (the PostgreSQL URL travels here, not on the command line).
    private let environment: [String: String]
    /// `@unchecked Sendable`: `Process` is only read for its pid after `run()`; the latch is filled by its termination handler.
    private final class Incarnation: @unchecked Sendable {
        let process: Process
        let exit = Latch<ChaosExit>()
        let name: String
        /// The signal the harness sent (SIGKILL or SIGTERM), if any.
        let sent = Mutex<Int32?>(nil)
        init(process: Process, name: String) {
            self.process = process
            self.name = name
        }
    }
    private let current = Mutex<(count: Int, incarnation: Incarnation?)>((0, nil))
    /// Every exit so far, in order.
    let exits = Mutex<[ChaosExit]>([])

    init(index: Int, executable: URL, folder: URL, environment: [String: String],
         arguments: @escaping @Sendable (String) -> [String]) {
        self.index = index
        self.environment = environment
        self.executable = executable
        self.folder = folder
        self.arguments = arguments
    }

    /// Starts a new incarnation (the previous one must have exited).
    func start() throws {
        let name = current.withLock { state -> String in
            state.count += 1
            return "w\(index).\(state.count)"
        }
        let log = folder.appendingPathComponent("\(name).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw ChaosFailure("cannot create \(log.path)")
        }
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments(name)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        let incarnation = Incarnation(process: process, name: name)
        process.terminationHandler = { [self] process in
            try? output.close()
            let bySignal = process.terminationReason == .uncaughtSignal
            let exit = ChaosExit(name: name, signal: bySignal ? process.terminationStatus : nil,
                                 status: bySignal ? 0 : process.terminationStatus, sent: incarnation.sent.withLock { $0 })
            exits.withLock { $0.append(exit) }
            incarnation.exit.resolve(exit)
        }
        try process.run()
        current.withLock { $0.incarnation = incarnation }
    }

    /// The running incarnation's name and pid, if one runs.
    var running: (name: String, pid: Int32)? {
        current.withLock { state in
            guard let incarnation = state.incarnation, !incarnation.exit.isResolved else { return nil }
            return (incarnation.name, incarnation.process.processIdentifier)
        }
    }

    /// Sends `signal` to the running incarnation; SIGKILL and SIGTERM are remembered as the harness's own.
    @discardableResult
    func send(_ signal: Int32) -> Bool {
        guard let incarnation = current.withLock({ $0.incarnation }), !incarnation.exit.isResolved else { return false }
        if signal == SIGKILL || signal == SIGTERM { incarnation.sent.withLock { $0 = signal } }
        return kill(incarnation.process.processIdentifier, signal) == 0
    }

    /// Waits for the running incarnation's exit, at most `limit`; `nil` if it is still running then.
    func waitForExit(within limit: Duration) async -> ChaosExit? {
        guard let incarnation = current.withLock({ $0.incarnation }) else { return nil }
        return await incarnation.exit.wait(within: limit)
    }

    /// The log files of every incarnation so far.
    var logFiles: [URL] {
        let count = current.withLock { $0.count }
        return (1...max(1, count)).map { folder.appendingPathComponent("w\(index).\($0).log") }
    }
}
