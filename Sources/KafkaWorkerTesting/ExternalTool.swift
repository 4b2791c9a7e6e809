import Foundation

/// An external program a test talks to Kafka with (kcat, for instance).
public struct ExternalTool: Sendable {
    /// What a run printed and how it ended.
    public struct Output: Sendable {
        public var status: Int32
        public var standardOutput: String
    }

    /// The tool could not be found or did not finish in time.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let path: String

    /// Finds `name` on `PATH`.
    public init(_ name: String) throws {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard let path = paths.map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw Failure(description: "\(name) is not installed (./scripts/test installs it)") }
        self.path = path
    }

    /// The program at `path`.
    public init(path: String) {
        self.path = path
    }

    /// Runs the tool with `arguments`, writes `input` to its standard input, and waits (at most `limit`).
    public func run(_ arguments: [String], input: String = "", within limit: Duration = .seconds(30)) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // A tool still running at the limit is killed: its output then ends, so the reader below returns and the
        // deadline's error reaches the caller (a tool that never exits would otherwise hold the waiting task forever).
        let pid = process.processIdentifier
        let killer = Task {
            try await Task.sleep(for: limit + .milliseconds(200))
            // SIGTERM first (a harness can then stop what it started), SIGKILL if that is not enough.
            guard process.isRunning else { return }
            kill(pid, SIGTERM)
            try await Task.sleep(for: .seconds(5))
            if process.isRunning { kill(pid, SIGKILL) }
        }
        defer { killer.cancel() }
        // Read and wait on a thread of its own: blocking calls must not hold one of Swift's cooperative threads.
        let (data, status): (Data, Int32) = try await withDeadline(limit, "\(path) \(arguments.joined(separator: " "))") {
            await withCheckedContinuation { continuation in
                Thread {
                    let data = stdout.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (data, process.terminationStatus))
                }.start()
            }
        }
        return Output(status: status, standardOutput: String(decoding: data, as: UTF8.self))
    }
}

extension ExternalTool {
    /// Runs kcat with `arguments` and returns what it printed; a non-zero exit is a ``Failure``.
    public static func kcat(_ arguments: [String], input: String = "") async throws -> String {
        let output = try await ExternalTool("kcat").run(arguments, input: input)
        guard output.status == 0 else { throw Failure(description: "kcat \(arguments) exited with \(output.status)") }
        return output.standardOutput
    }
}
