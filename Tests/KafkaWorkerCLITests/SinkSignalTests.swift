import Foundation
import KafkaClient
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

final class StopLog: Sendable {
    let stuck = Mutex<[String]>([])
    let stopped = Mutex(0)
}

/// Sinks of one group under restarts, each told to stop (SIGINT or SIGTERM) at a random moment of its life —
/// starting, joining, rebalancing, idle: every one exits, within the grace period plus the close bound.
@Suite("kafka-worker sink stops on a signal whatever it is doing", .timeLimit(.minutes(3)))
struct SinkSignalTests {
    @Test("three sink slots for 40 s: each sink gets SIGINT/SIGTERM (or SIGKILL) 0.05–5 s after start and exits in time")
    func signalsAtRandomMoments() async throws {
        let (arguments, _) = try await Self.sinkSetup("sink-signals")
        let log = StopLog()
        let deadline = ContinuousClock.now + .seconds(40)
        try await withThrowingTaskGroup(of: Void.self) { slots in
            for slot in 0..<3 {
                slots.addTask {
                    var rng = SystemRandomNumberGenerator()
                    while ContinuousClock.now < deadline {
                        let sink = try SpawnedWorker(arguments)
                        try await Task.sleep(for: .milliseconds(Int.random(in: 50...5_000, using: &rng)))
                        let roll = Int.random(in: 0..<10, using: &rng)
                        if roll < 2 {
                            sink.send(SIGKILL)  // a crash: the others rebalance
                            _ = await sink.exitStatus(within: .seconds(10))
                            continue
                        }
                        let signal = roll < 6 ? SIGINT : SIGTERM
                        sink.send(signal)
                        // Grace period (30 s by default) is not reached here: nothing waits on a slow handler.
                        if let status = await sink.exitStatus(within: .seconds(25)) {
                            // A signal that came before the process reached main (nothing printed yet; on a loaded
                            // machine loading the binary can take longer than 50 ms) kills it as the default action
                            // does, before any handler exists: nothing was started, nothing is lost.
                            let beforeMain = status == signal && sink.text.isEmpty
                            if status != 0 && !beforeMain {
                                log.stuck.withLock { $0.append("slot \(slot): exit \(status)\n\(sink.text.suffix(1_500))") }
                            }
                            log.stopped.withLock { $0 += 1 }
                        } else {
                            log.stuck.withLock { $0.append("slot \(slot): still running 25 s after signal \(signal)\n\(sink.text.suffix(1_500))") }
                            sink.send(SIGKILL)
                            _ = await sink.exitStatus(within: .seconds(10))
                        }
                    }
                }
            }
            try await slots.waitForAll()
        }
        #expect(log.stuck.withLock { $0 }.isEmpty, "\(log.stuck.withLock { $0 })")
        #expect(log.stopped.withLock { $0 } >= 6, "enough stops were tried")
    }

    @Test("three sinks, one SIGKILLed and restarted every 2–5 s for 30 s: every record written once; then SIGINT to each: every one exits in time")
    func signalAfterRestartChaos() async throws {
        let (arguments, database) = try await Self.sinkSetup("sink-chaos")
        var sinks = try (0..<3).map { _ in try SpawnedWorker(arguments) }
        let chaosEnd = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < chaosEnd {
            try await Task.sleep(for: .milliseconds(Int.random(in: 2_000...5_000)))
            let victim = Int.random(in: 0..<3)
            sinks[victim].send(SIGKILL)
            _ = await sinks[victim].exitStatus(within: .seconds(10))
            sinks[victim] = try SpawnedWorker(arguments)
        }
        // Every record written exactly once despite the kills mid-batch (the row and its marker commit together).
        let reader = try SQLiteIdempotencyStore(configuration: .init(path: database))
        @Sendable func counts() async throws -> (Int64, Int64) {
            let row = try await reader.withMarkers([]) { transaction, _ in
                try await transaction.execute("SELECT count(*), count(DISTINCT kafka_partition || ':' || kafka_offset) FROM kafka_sink")
            }.first
            return (row?[0].integer ?? -1, row?[1].integer ?? -1)
        }
        try await waitFor("3,000 rows", within: .seconds(60)) { (try? await counts().1) == 3_000 }
        let (rows, distinct) = try await counts()
        #expect(rows == 3_000 && distinct == 3_000, "rows \(rows), distinct positions \(distinct)")
        // A process signalled before its `main` runs dies of the signal, as any program: wait until each started.
        for sink in sinks {
            try await waitFor("the sink started", within: .seconds(20)) { sink.text.contains("sink started") }
        }
        for sink in sinks { sink.send(SIGINT) }
        var stuck: [String] = []
        for (index, sink) in sinks.enumerated() {
            guard let status = await sink.exitStatus(within: .seconds(30)) else {
                stuck.append("sink \(index) still running 30 s after SIGINT\n\(sink.text.suffix(2_000))")
                sink.send(SIGKILL)
                continue
            }
            if status != 0 { stuck.append("sink \(index) exited \(status)\n\(sink.text.suffix(2_000))") }
        }
        #expect(stuck.isEmpty, "\(stuck)")
    }

    @Test("two signals while nothing listens yet (a demo still starting) end the process at once")
    func twoSignalsWhileStarting() async throws {
        let demo = try SpawnedWorker(["demo", "--orders", "200000", "--log-level", "info"])
        // Its first log line: `main` ran, the signals are ours; the cluster, topics and orders are still being made.
        try await waitFor("the demo logs", within: .seconds(20)) { !demo.text.isEmpty }
        demo.send(SIGINT)
        try await Task.sleep(for: .milliseconds(100))
        demo.send(SIGINT)
        let status = await demo.exitStatus(within: .seconds(20))
        #expect(status != nil, "the demo still ran 20 s after two SIGINTs\n\(demo.text.suffix(1_500))")
        if status == nil { demo.send(SIGKILL) }
    }

    /// A topic of 3,000 records on 3 partitions and the arguments of a sink of a fresh group and database.
    static func sinkSetup(_ prefix: String) async throws -> (arguments: [String], database: String) {
        let topic = try KafkaTesting.topic(prefix, partitions: 3)
        try await KafkaTesting.send((0..<3_000).map {
            KafkaProducerRecord(topic: topic, partition: Int32($0 % 3), key: "k\($0)", value: "v\($0)")
        })
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("sink")).db").path
        let arguments = ["sink", "--bootstrap-servers", KafkaTesting.shared.bootstrapServersString, "--topic", topic,
                         "--group", KafkaTesting.unique("sink-group"), "--database", database, "--log-level", "info",
                         "--session-timeout-ms", "6000"]
        return (arguments, database)
    }
}
