import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// SIGKILL: no drain, no final commit — the group keeps what the last periodic commit said. With the finished
/// offsets above it in that commit's metadata, the next owner runs only what had not finished by then. Run alone by
/// `./scripts/test` (an exit test: its child process is the worker that is killed).
@Suite("A worker SIGKILLed mid-backlog", .timeLimit(.minutes(3)))
struct CrashRedeliveryTests {
    @Test("killed right after a periodic commit: the restart runs only what had not finished (metadata), or — metadata too big — falls back and loses nothing",
          arguments: [4_000, 12])
    func killAfterCommit(metadataBytes: Int) async throws {
        let (count, backlog) = try await GracefulStopRedeliveryTests.backlog("crash-meta", ordering: .key)
        let servers = KafkaTesting.shared.bootstrapServersString
        let topic = backlog.topics[0], group = backlog.groupID
        let handledFile = FileManager.default.temporaryDirectory.appendingPathComponent(KafkaTesting.unique("crash-handled")).path
        _ = FileManager.default.createFile(atPath: handledFile, contents: nil)
        await #expect(processExitsWith: .signal(SIGKILL)) { [servers = servers as String, topic = topic as String, group = group as String,
                                                            handledFile = handledFile as String, count = count as Int,
                                                            metadataBytes = metadataBytes as Int] in
            try await CrashChild.runUntilKilled(servers: servers, topic: topic, group: group, handledFile: handledFile,
                                                killAfter: count / 3, metadataBytes: metadataBytes)
        }
        let lines = try String(contentsOfFile: handledFile, encoding: .utf8).split(separator: "\n").map(String.init)
        let marker = try #require(lines.firstIndex(of: CrashChild.marker), "the child marked a commit before it was killed")
        // Handled before a commit that came two commits before the kill: settled in the last commit's metadata.
        let settled = Set(lines[..<marker])
        let first = Set(lines[(marker + 1)...]).union(settled)
        #expect(first.count >= count / 3, "the child handled a third before it was killed (\(first.count))")

        let ledger = Ledger()
        var configuration = backlog
        configuration.commitMetadataMaxBytes = metadataBytes
        let second = GracefulStopRedeliveryTests.worker(configuration, ledger)
        try await waitUntil("every record handled by one of the two", within: .seconds(90)) {
            first.union(ledger.order).count == count
        }
        try await Task.sleep(for: .milliseconds(300))
        try await second.stop()
        let again = first.intersection(ledger.order)
        let settledAgain = settled.intersection(ledger.order)
        print("SIGKILL after a commit, metadata \(metadataBytes) bytes: \(first.count) handled before the kill "
              + "(\(settled.count) of them ≥ 2 commits before it), \(again.count) again after it (\(settledAgain.count) of those)")
        #expect(first.union(ledger.order).count == count, "nothing lost")
        if metadataBytes >= 4_000 {
            // Only what finished after the last commit's snapshot (or ran at the kill) comes back: nothing settled.
            #expect(settledAgain.isEmpty, "\(settledAgain.count) settled records handled again: \(settledAgain.sorted().prefix(10))")
        }
    }
}

/// The killed worker: handles the backlog with the drifting handler, appends each handled id to `handledFile`; once
/// `killAfter` records were handled it appends ``marker`` at the next periodic commit, and SIGKILLs its own process
/// at the second commit after that (commit ticks are 200 ms apart and a commit's round trip takes milliseconds: the
/// commits after the marked one were taken after the marker, so they cover every record listed before it).
enum CrashChild {
    static let marker = "#commit"

    static func runUntilKilled(servers: String, topic: String, group: String, handledFile: String, killAfter: Int,
                               metadataBytes: Int) async throws {
        let descriptor = open(handledFile, O_WRONLY | O_APPEND)
        guard descriptor >= 0 else { exit(3) }
        var configuration = KafkaTesting.workerConfiguration(bootstrapServers: servers.split(separator: ",").map(String.init),
                                                             group: group, topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 32
        configuration.consumer.commit.interval = .milliseconds(200)
        configuration.commitMetadataMaxBytes = metadataBytes
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            // Keys 0–9 are slow (150 ms: their 31 records take ~4.6 s), the rest quick: the slow lanes hold each
            // partition's commit far below what finished, for several commits.
            let index = Int(record.value.id.dropFirst())!
            try await Task.sleep(for: .milliseconds(index % 97 < 10 ? 150 : 1))
            ledger.note(record.value.id)
            _ = "\(record.value.id)\n".utf8CString.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, $0.count - 1) }
        })
        @Sendable func append(_ line: String) {
            // One write(2) per line: whole lines, in the file before the handler returns.
            _ = "\(line)\n".utf8CString.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, $0.count - 1) }
        }
        var start = Int.max
        var marked: Int?
        // Never outlive the test: a child that found no moment to be killed ends with status 5 (the test fails).
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let commits = worker.events(.committed).filter { $0.error == nil }.count
            if ledger.total >= killAfter, start == .max { start = commits }
            if marked == nil, commits > start {
                append(marker)
                marked = commits
            }
            if let marked, commits >= marked + 2 || ledger.total == killAfter * 3 { kill(getpid(), SIGKILL) }
            try await Task.sleep(for: .milliseconds(1))
        }
        exit(5)
    }
}
