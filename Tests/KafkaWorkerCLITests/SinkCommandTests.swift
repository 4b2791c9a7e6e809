import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

/// A `kafka-worker` process whose output (stdout and stderr) is collected as it arrives.
final class SpawnedWorker: Sendable {
    private let process: Process
    private let output = TextBox()
    private let done: Task<Int32, Never>

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = kafkaWorkerBinary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        self.process = process
        let output = self.output
        done = Task { [output] in
            await withCheckedContinuation { continuation in
                // Blocking reads and the wait run on a thread of their own, off Swift's cooperative pool.
                Thread {
                    while case let chunk = pipe.fileHandleForReading.availableData, !chunk.isEmpty {
                        output.append(String(decoding: chunk, as: UTF8.self))
                    }
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                }.start()
            }
        }
    }

    var text: String { output.text }

    /// SIGTERM, then the exit status.
    func stop() async -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        return await done.value
    }

    func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The exit status, or `nil` if the process is still running after `limit`.
    func exitStatus(within limit: Duration) async -> Int32? {
        let done = self.done
        return await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await done.value }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
    }
}

final class TextBox: Sendable {
    private let value = Mutex("")
    func append(_ text: String) { value.withLock { $0 += text } }
    var text: String { value.withLock { $0 } }
}

@Suite("kafka-worker sink", .timeLimit(.minutes(3)))
struct SinkCommandTests {
    @Test("three sink processes share one SQLite file: every id once, duplicates counted, never \"database is locked\"")
    func threeProcessesShareOneSQLiteFile() async throws {
        let cluster = KafkaTesting.shared
        let topic = try KafkaTesting.topic("sink", partitions: 3)
        // 300 ids, each produced twice to different partitions (a producer duplicate at a new offset).
        let records = (0..<300).flatMap { index -> [KafkaProducerRecord] in
            let partition = Int32(index % 3)
            return [KafkaProducerRecord(topic: topic, partition: partition, key: "id-\(index)", value: "first \(index)"),
                    KafkaProducerRecord(topic: topic, partition: (partition + 1) % 3, key: "id-\(index)", value: "again \(index)")]
        }
        try await KafkaTesting.send(records)
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("sink")).db").path
        let group = KafkaTesting.unique("sink-group")
        let sinks = try (0..<3).map { _ in
            try SpawnedWorker(["sink", "--bootstrap-servers", cluster.bootstrapServersString, "--topic", topic,
                               "--group", group, "--database", database, "--batch-size", "20", "--log-level", "warning",
                               "--dedup-key", "key",
                               // The embedded cluster holds a rebalance for the session timeout less 1 s when a member
                               // joins a settled group (a real broker ends it once all members rejoined): keep it short.
                               "--session-timeout-ms", "6000"])
        }
        let reader = try SQLiteIdempotencyStore(configuration: .init(path: database))
        try await waitFor("300 rows in the sink table", within: .seconds(90)) {
            let rows = try? await reader.withMarkers([]) { transaction, _ in
                try await transaction.execute("SELECT count(*) FROM kafka_sink")
            }
            return rows?.first?.first?.integer == 300
        }
        // Let late duplicates be skipped too: wait until the three report 600 records between them.
        try await waitFor("600 records finished", within: .seconds(60)) {
            sinks.map { Self.finished($0.text) }.reduce(0, +) >= 600
        }
        var statuses: [Int32] = []
        for sink in sinks { statuses.append(await sink.stop()) }
        let outputs = sinks.map(\.text)
        #expect(statuses == [0, 0, 0], "\(outputs)")
        for output in outputs {
            #expect(!output.lowercased().contains("database is locked"), "\(output)")
            #expect(output.contains("sink stopped:"))
        }
        let counts = try await reader.withMarkers([]) { transaction, _ in
            try await transaction.execute("SELECT count(*), count(DISTINCT dedup_key), min(substr(value, 1, 5)) FROM kafka_sink")
        }
        #expect(counts.first?[0] == .integer(300))
        #expect(counts.first?[1] == .integer(300))
        let stopped = outputs.compactMap { $0.split(separator: "\n").last { $0.hasPrefix("sink stopped:") } }
        let written = stopped.compactMap { Self.number(before: " written", in: String($0)) }.reduce(0, +)
        let skipped = stopped.compactMap { Self.number(before: " duplicates skipped", in: String($0)) }.reduce(0, +)
        // Exactly one write per id across the three processes. Skips are at least the 300 re-sent copies; a
        // rebalance between the sinks can redeliver records whose commit had not happened yet, and those are
        // skipped too.
        #expect(written == 300, "\(stopped)")
        #expect(skipped >= 300, "\(stopped)")
    }

    @Test("by default every message is kept, also on a topic keyed by customer (the dedup key is the position)")
    func defaultKeepsEveryMessageOfAKey() async throws {
        let cluster = KafkaTesting.shared
        let topic = try KafkaTesting.topic("sink-keyed")
        // 10 customers, 5 messages each: 50 different messages sharing 10 keys.
        let records = (0..<50).map { KafkaProducerRecord(topic: topic, partition: 0, key: "customer-\($0 % 10)", value: "event \($0)") }
        try await KafkaTesting.send(records)
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("sink")).db").path
        let sink = try SpawnedWorker(["sink", "--bootstrap-servers", cluster.bootstrapServersString, "--topic", topic,
                                      "--group", KafkaTesting.unique("sink-group"), "--database", database,
                                      "--log-level", "warning", "--session-timeout-ms", "6000"])
        try await waitFor("50 records finished", within: .seconds(60)) { Self.finished(sink.text) >= 50 }
        #expect(await sink.stop() == 0, "\(sink.text)")
        let reader = try SQLiteIdempotencyStore(configuration: .init(path: database))
        let counts = try await reader.withMarkers([]) { transaction, _ in
            try await transaction.execute("SELECT count(*), count(DISTINCT record_key) FROM kafka_sink")
        }
        #expect(counts.first?[0] == .integer(50), "every message of every customer written: \(sink.text)")
        #expect(counts.first?[1] == .integer(10))
    }

    @Test("a bad option is refused at start, naming it and what is accepted", arguments: [
        (["--dedup-key", "value"], "--dedup-key \"value\" is not one of: key, header:NAME, offset"),
        (["--session-timeout-ms", "10"], "--session-timeout-ms 10 is outside the accepted range 1000...3600000"),
        (["--table", "1x"], "--table \"1x\" is not accepted"),
    ])
    func badOption(option: [String], message: String) async throws {
        let (status, output) = try await runKafkaWorker(
            ["sink", "--bootstrap-servers", "127.0.0.1:1", "--topic", "t", "--group", "g", "--database", "/tmp/x.db"] + option,
            withErrors: true)
        #expect(status != 0)
        #expect(output.contains(message), "\(output)")
    }

    /// Written + skipped, from the last totals line of a sink's output.
    static func finished(_ output: String) -> Int {
        guard let line = output.split(separator: "\n").last(where: { $0.contains(" written, ") }) else { return 0 }
        return (number(before: " written", in: String(line)) ?? 0) + (number(before: " duplicates skipped", in: String(line)) ?? 0)
    }

    static func number(before marker: String, in line: String) -> Int? {
        guard let range = line.range(of: marker) else { return nil }
        return Int(line[..<range.lowerBound].split(whereSeparator: { !$0.isNumber }).last ?? "")
    }
}
