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

    /// Runs the tool with `arguments`, writes `input` to its standard input, and waits (at most `limit`: a tool still
    /// running then is stopped, SIGTERM and 5 s later SIGKILL, and the call fails).
    public func run(_ arguments: [String], input: String = "", within limit: Duration = .seconds(30)) async throws -> Output {
        let stdin = Pipe(), stdout = Pipe()
        let child = try ChildProcess(URL(fileURLWithPath: path), arguments, standardOutput: stdout,
                                     standardError: FileHandle.standardError, standardInput: stdin)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Output is read on a thread of its own; it ends when the tool (or whatever inherited its output) exits.
        let reader = Task { await stdout.fileHandleForReading.readToEndOffPool() }
        guard let exit = await child.waitForExit(within: limit) else {
            // SIGTERM first (a harness can then stop what it started), SIGKILL if that is not enough.
            child.signal(SIGTERM)
            if await child.waitForExit(within: .seconds(5)) == nil { child.signal(SIGKILL) }
            throw DeadlineExceeded(what: "\(path) \(arguments.joined(separator: " ")) (within \(limit))")
        }
        let data = await reader.value
        return Output(status: exit.bySignal ? 128 + exit.status : exit.status, standardOutput: String(decoding: data, as: UTF8.self))
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
