public import Foundation

/// A program a test or the harness started, whose exit is awaited without blocking a thread.
///
/// Foundation's `Process.waitUntilExit()` is never used: on Linux it spins the calling thread's run loop until
/// Foundation's monitor marks the child gone, and it has been seen to block forever for a child that had exited
/// (and, called on one of Swift's few cooperative threads, to stall every task of the process meanwhile). The exit
/// comes from the termination handler instead, installed before the child starts so that no exit is missed.
public final class ChildProcess: Sendable {
    /// How the child ended.
    public struct Exit: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or the signal's number when `bySignal`.
        public var status: Int32
        public var bySignal: Bool
        public init(status: Int32, bySignal: Bool) {
            self.status = status
            self.bySignal = bySignal
        }
        public var description: String { bySignal ? "signal \(status)" : "status \(status)" }
    }

    public let pid: Int32
    private let exit = Latch<Exit>()

    /// Starts `process` (configured, not yet run). Its termination handler belongs to this object.
    public init(_ process: Process) throws {
        let exit = self.exit
        process.terminationHandler = { process in
            exit.resolve(Exit(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal))
        }
        try process.run()
        pid = process.processIdentifier
    }

    /// Starts `executable` with `arguments`; standard input is empty, output goes where the caller says.
    public convenience init(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                            standardOutput: Any? = FileHandle.nullDevice, standardError: Any? = FileHandle.nullDevice,
                            standardInput: Any? = FileHandle.nullDevice) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = standardInput
        process.standardOutput = standardOutput
        process.standardError = standardError
        try self.init(process)
    }

    /// Whether the child has not been seen to exit.
    public var isRunning: Bool { !exit.isResolved }

    /// The exit, once it has come.
    public var exited: Exit? { exit.value }

    /// Waits for the exit; `nil` when the child still runs after `limit`.
    public func waitForExit(within limit: Duration) async -> Exit? {
        await exit.wait(within: limit)
    }

    /// Waits for the exit; past `limit` the child is killed (SIGKILL) and its exit awaited.
    public func waitForExitOrKill(within limit: Duration) async -> Exit {
        if let exit = await waitForExit(within: limit) { return exit }
        kill(pid, SIGKILL)
        return await waitForExit(within: .seconds(30)) ?? Exit(status: SIGKILL, bySignal: true)
    }

    /// Sends `signal` unless the child has already exited.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }
}

extension FileHandle {
    /// Reads until end of file on a thread of its own (a blocking read must not hold a cooperative thread), handing
    /// each chunk to `chunk` as it arrives; returns everything read.
    public func readToEndOffPool(_ chunk: @escaping @Sendable (Data) -> Void = { _ in }) async -> Data {
        await withCheckedContinuation { continuation in
            let handle = UncheckedHandle(handle: self)
            Thread {
                var all = Data()
                while case let data = handle.handle.availableData, !data.isEmpty {
                    all.append(data)
                    chunk(data)
                }
                continuation.resume(returning: all)
            }.start()
        }
    }
}

/// `FileHandle` is used by one thread at a time here: the reader thread, after the caller let it go.
private struct UncheckedHandle: @unchecked Sendable { let handle: FileHandle }
