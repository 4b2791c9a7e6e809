import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

/// A `kafka-worker` process whose output (stdout and stderr) is collected as it arrives.
final class SpawnedWorker: Sendable {
    private let child: ChildProcess
    private let output = TextBox()

    init(_ arguments: [String]) throws {
        let pipe = Pipe()
        child = try ChildProcess(kafkaWorkerBinary, arguments, standardOutput: pipe, standardError: pipe)
        let output = self.output
        Task { await pipe.fileHandleForReading.readToEndOffPool { chunk in output.append(String(decoding: chunk, as: UTF8.self)) } }
    }

    var text: String { output.text }

    /// SIGTERM, then the exit status (a process still running a minute later is killed: its status is then 9).
    func stop() async -> Int32 {
        child.signal(SIGTERM)
        return await child.waitForExitOrKill(within: .seconds(60)).status
    }

    func send(_ signal: Int32) { child.signal(signal) }

    /// The exit status (the signal's number for a death by signal), or `nil` if the process is still running after `limit`.
    func exitStatus(within limit: Duration) async -> Int32? {
        await child.waitForExit(within: limit)?.status
    }
}

final class TextBox: Sendable {
    private let value = Mutex("")
    private let marked = Mutex(false)
    func append(_ text: String) { value.withLock { $0 += text } }
    var text: String { value.withLock { $0 } }
    /// `true` the first time only.
    func markOnce() -> Bool { marked.withLock { done in defer { done = true }; return !done } }
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
        (["--ordering", "sideways"], "--ordering \"sideways\" is not one of: partition, key, unordered"),
        (["--concurrency", "0"], "--concurrency 0 is outside 1 ... 10000"),
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
