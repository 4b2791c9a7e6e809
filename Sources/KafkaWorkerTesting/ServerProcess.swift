public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
import Darwin
private let streamSocket = SOCK_STREAM
#endif

/// A server a test started (a broker, a TLS proxy): its output goes to a log file, and it is stopped by its PID —
/// (SIGKILL) by ``stop()``, when the object goes away, or at the latest when the test process exits.
public final class ServerProcess: Sendable {
    /// The program could not start, or did not listen in time.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let pid: Int32
    public let name: String
    /// Where the server's standard output and error go.
    public let logURL: URL
    private let child: ChildProcess
    private let stopped = Mutex(false)

    /// Starts `executable` with `arguments` in `directory`; output goes to `directory/<name>.log`.
    public init(name: String, executable: String, arguments: [String], directory: URL) throws {
        self.name = name
        logURL = directory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do { child = try ChildProcess(process) } catch {
            throw Failure(description: "\(name) (\(executable)) did not start: \(error)")
        }
        try? log.close()
        pid = child.pid
        ServerProcess.live.withLock { _ = $0.insert(pid) }
        ServerProcess.installExitHook
    }

    deinit {
        if !stopped.withLock({ $0 }) { kill(pid, SIGKILL) }
        ServerProcess.live.withLock { _ = $0.remove(pid) }
    }

    public var isRunning: Bool { child.isRunning }

    /// The end of the log (for error messages).
    public func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`; fails at once if the server exits.
    public func waitUntilListening(on port: Int, within limit: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + limit
        while !(await LocalPort.accepts(port)) {
            guard isRunning else {
                throw Failure(description: "\(name) exited before listening on 127.0.0.1:\(port):\n\(logTail())")
            }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "\(name) did not listen on 127.0.0.1:\(port) within \(limit):\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Kills the server (SIGKILL) and waits until it is gone. Idempotent.
    ///
    /// Not SIGTERM: a child started from one of Swift's threads inherits that thread's signal mask, in which
    /// SIGTERM is blocked, so it would wait out any grace period. The servers here keep nothing worth a clean exit.
    public func stop() async {
        guard stopped.withLock({ done in defer { done = true }; return !done }) else { return }
        kill(pid, SIGKILL)
        _ = await child.waitForExit(within: .seconds(10))
        ServerProcess.live.withLock { _ = $0.remove(pid) }
    }

    /// Servers still running; killed when the test process exits, whatever the tests did.
    private static let live = Mutex<Set<Int32>>([])
    private static let installExitHook: Void = {
        atexit { ServerProcess.killAll() }
    }()

    /// Kills every server still running (at exit).
    static func killAll() {
        for pid in live.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}

/// TCP ports on 127.0.0.1.
public enum LocalPort {
    /// A port nothing listens on right now (the kernel picks it; another process may still take it first).
    public static func free() throws -> Int {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { throw ServerProcess.Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw ServerProcess.Failure(description: "no free port on 127.0.0.1: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted (tried on a thread of its own).
    public static func accepts(_ port: Int) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread {
                let fd = socket(AF_INET, streamSocket, 0)
                guard fd >= 0 else { return continuation.resume(returning: false) }
                defer { close(fd) }
                var address = loopback(port: port)
                let connected = withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                    }
                }
                continuation.resume(returning: connected)
            }.start()
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
