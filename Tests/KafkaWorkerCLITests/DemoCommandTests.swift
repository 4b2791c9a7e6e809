import Foundation
import Testing

/// Runs `kafka-worker` with `arguments`; returns its exit status and standard output (with standard error too
/// when `withErrors`: usage errors go there).
func runKafkaWorker(_ arguments: [String], signalWhen trigger: String? = nil, signal: Int32 = SIGTERM,
                    withErrors: Bool = false) async throws -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = kafkaWorkerBinary
    process.arguments = arguments
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = withErrors ? stdout : FileHandle.nullDevice
    try process.run()
    // Read on a thread of its own: a blocking read must not hold one of Swift's few cooperative threads.
    let output = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
        Thread {
            var text = ""
            var signalled = false
            // `availableData` returns what has arrived (`read(upToCount:)` would wait for the full count).
            while case let chunk = stdout.fileHandleForReading.availableData, !chunk.isEmpty {
                text += String(decoding: chunk, as: UTF8.self)
                if let trigger, !signalled, text.contains(trigger) {
                    kill(process.processIdentifier, signal)
                    signalled = true
                }
            }
            continuation.resume(returning: text)
        }.start()
    }
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

@Suite("kafka-worker demo", .timeLimit(.minutes(2)))
struct DemoCommandTests {
    @Test("the demo applies every order once, skips duplicates, dead-letters exactly the malformed records, lag 0")
    func demoSucceeds() async throws {
        let (status, output) = try await runKafkaWorker(["demo", "--orders", "3000", "--partitions", "3"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("produced 3038 records: 3000 orders, 30 re-sent duplicates, 8 malformed"))
        #expect(output.contains("processed: 3030 records (3000 orders applied, 30 duplicates skipped)"))
        #expect(output.contains("dead-lettered: 8 (malformed produced: 8, in orders.dlq: 8)"))
        #expect(output.contains("lag after shutdown: 0"))
        #expect(output.contains("result: OK"))
    }

    @Test("--keep-running serves until SIGTERM, then drains, commits and exits 0")
    func keepRunningUntilSignal() async throws {
        let (status, output) = try await runKafkaWorker(
            ["demo", "--orders", "500", "--ordering", "key", "--keep-running"], signalWhen: "keeps running")
        #expect(status == 0, "\(output)")
        #expect(output.contains("lag after shutdown: 0"))
        #expect(output.contains("result: OK"))
    }

    @Test("--log-format json with --log-file writes one JSON object per line")
    func jsonLogs() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kw-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, _) = try await runKafkaWorker(["demo", "--orders", "200", "--log-format", "json", "--log-file", file.path])
        #expect(status == 0)
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count > 5)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] is String && object?["message"] is String && object?["timestamp"] is String)
        }
        #expect(lines.contains { $0.contains("\"event\":\"dead-lettered\"") })
    }

    @Test("bad options are rejected with the accepted values")
    func badOptions() async throws {
        let process = Process()
        process.executableURL = kafkaWorkerBinary
        process.arguments = ["demo", "--ordering", "random"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(message.contains("partition, key, unordered"))
    }
}
