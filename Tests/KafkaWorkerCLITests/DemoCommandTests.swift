import Foundation
import KafkaWorkerTesting
import Testing

/// Runs `kafka-worker` with `arguments`; returns its exit status and standard output (with standard error too
/// when `withErrors`: usage errors go there).
func runKafkaWorker(_ arguments: [String], signalWhen trigger: String? = nil, signal: Int32 = SIGTERM,
                    withErrors: Bool = false, within limit: Duration = .seconds(150)) async throws -> (status: Int32, output: String)
{
    let stdout = Pipe()
    let child = try ChildProcess(kafkaWorkerBinary, arguments, standardOutput: stdout,
                                 standardError: withErrors ? stdout : FileHandle.nullDevice)
    let seen = TextBox()
    let reader = Task {
        await stdout.fileHandleForReading.readToEndOffPool { chunk in
            seen.append(String(decoding: chunk, as: UTF8.self))
            if let trigger, seen.text.contains(trigger), seen.markOnce() { child.signal(signal) }
        }
    }
    // A process still running at the limit is killed (its status is then 9): the test fails instead of hanging.
    let exit = await child.waitForExitOrKill(within: limit)
    let output = String(decoding: await reader.value, as: UTF8.self)
    return (exit.status, output)
}

/// Runs `kafka-worker` with `arguments` and returns its exit status and standard error.
func runKafkaWorkerForErrors(_ arguments: [String]) async throws -> (status: Int32, errors: String) {
    let stderr = Pipe()
    let child = try ChildProcess(kafkaWorkerBinary, arguments, standardError: stderr)
    let errors = await stderr.fileHandleForReading.readToEndOffPool()
    let exit = await child.waitForExitOrKill(within: .seconds(30))
    return (exit.status, String(decoding: errors, as: UTF8.self))
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
        let (status, message) = try await runKafkaWorkerForErrors(["demo", "--ordering", "random"])
        #expect(status != 0)
        #expect(message.contains("partition, key, unordered"))
    }
}
