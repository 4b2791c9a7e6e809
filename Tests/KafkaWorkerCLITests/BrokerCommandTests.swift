import Foundation
import KafkaWorkerTesting
import Testing

/// The `kafka-worker` executable built beside this test bundle.
let kafkaWorkerBinary: URL = {
    let executable = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                         ?? CommandLine.arguments[0])
    var directory = executable.deletingLastPathComponent()
    while directory.path != "/" && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("kafka-worker").path) {
        directory = directory.deletingLastPathComponent()
    }
    return directory.appendingPathComponent("kafka-worker")
}()

@Suite("kafka-worker broker", .timeLimit(.minutes(1)))
struct BrokerCommandTests {
    @Test("prints bootstrap.servers first, serves kcat, writes the bootstrap file, exits 0 on SIGTERM and SIGINT",
          arguments: [SIGTERM, SIGINT])
    func brokerServesKcat(signal: Int32) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: kafkaWorkerBinary.path), "\(kafkaWorkerBinary.path)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bootstrap-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let stdout = Pipe()
        let child = try ChildProcess(kafkaWorkerBinary, ["broker", "--brokers", "2", "--topic", "orders:3", "--topic", "audit:1",
                                                         "--bootstrap-file", file.path, "--log-level", "warning"],
                                     standardOutput: stdout)

        // Read on a thread of its own: a blocking read must not hold one of Swift's few cooperative threads.
        let firstLine = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            Thread {
                var bytes: [UInt8] = []
                while let byte = try? stdout.fileHandleForReading.read(upToCount: 1)?.first, byte != UInt8(ascii: "\n") {
                    bytes.append(byte)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }.start()
        }
        #expect(firstLine.hasPrefix("bootstrap.servers=127.0.0.1:"))
        #expect(try String(contentsOf: file, encoding: .utf8) == firstLine + "\n")
        let servers = String(firstLine.dropFirst("bootstrap.servers=".count))
        #expect(servers.split(separator: ",").count == 2)

        _ = try await ExternalTool.kcat(["-P", "-b", servers, "-t", "orders", "-K:", "-p", "2"], input: "o1:first\no2:second\n")
        let read = try await ExternalTool.kcat(["-C", "-b", servers, "-t", "orders", "-p", "2", "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n"])
        #expect(read == "o1=first\no2=second\n")
        let metadata = try await ExternalTool.kcat(["-L", "-b", servers, "-t", "orders"])
        #expect(metadata.contains("3 partitions"))

        child.signal(signal)
        let exit = await child.waitForExitOrKill(within: .seconds(30))
        #expect(exit == ChildProcess.Exit(status: 0, bySignal: false))
    }

    @Test("a bad --topic is rejected with a usage error")
    func badTopicSpec() async throws {
        let (status, message) = try await runKafkaWorkerForErrors(["broker", "--topic", "orders"])
        #expect(status != 0)
        #expect(message.contains("--topic"))
    }
}
