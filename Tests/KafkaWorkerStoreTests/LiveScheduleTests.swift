import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

/// The scheduler model's operations, driven through live workers on the embedded cluster: receive (fetching),
/// finish, fail and retry (a transient failure on the first attempt), dead-letter (a poison record), slow handlers,
/// assign and revoke (members join and leave gracefully), lose (a member stopped by force abandons what it runs),
/// stop. The seed decides the ordering mode, every record's fate and when the group changes. After the group drains:
/// every record's effect exactly once, in order per partition or key, exactly the poison records dead-lettered, and
/// the group's committed offset at the end of every partition.
@Suite("Live schedules: the model's operations through real workers", .timeLimit(.minutes(3)))
struct LiveScheduleTests {
    struct Step: Codable, Sendable { var id: String; var key: String; var seq: Int }

    enum Fate { case ok, transientOnce, slow, poison }

    static func fate(seed: UInt64, index: Int) -> Fate {
        var generator = SplitMix(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        switch generator.next() % 100 {
        case 0..<4: return .poison
        case 4..<12: return .transientOnce
        case 12..<17: return .slow
        default: return .ok
        }
    }

    struct Transient: Error {}

    @Test("seeds 1–3: join, force-stop and graceful leave while records fail, retry and dead-letter", arguments: [UInt64(1), 2, 3])
    func schedule(seed: UInt64) async throws {
        let partitions = 3, count = 3_000, keys = 30
        let ordering: OrderingMode = [.partition, .key, .unordered][Int(seed % 3)]
        let topic = try KafkaTesting.topic("live-\(seed)", partitions: partitions)
        var perKey = [Int](repeating: 0, count: keys)
        let steps = (0..<count).map { index -> Step in
            let key = index % keys
            defer { perKey[key] += 1 }
            return Step(id: "r\(index)", key: "k\(key)", seq: perKey[key])
        }
        // A key's records stay on one partition, so per-key order is also checkable in `.partition` mode.
        try await KafkaTesting.send(steps.map { step in
            let key = Int(step.key.dropFirst())!
            return KafkaProducerRecord(topic: topic, partition: Int32(key % partitions), key: step.key,
                                       value: String(decoding: try! JSONEncoder().encode(step), as: UTF8.self))
        })
        let fates = (0..<count).map { Self.fate(seed: seed, index: $0) }
        let poison = Set(steps.indices.filter { fates[$0] == .poison }.map { steps[$0].id })

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("live")).db").path
        let store = try SQLiteIdempotencyStore(configuration: .init(path: path))
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            // No unique constraint: a second application would show as a second row.
            try await transaction.execute("CREATE TABLE effects (id TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL)")
        }
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = ordering
        configuration.maxConcurrency = 4
        let attempts = Mutex<[String: Int]>([:])
        func worker() -> RunningWorker {
            RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Step>(),
                                      idempotency: Idempotency(store: store, key: .field("id") { $0.id }),
                                      logger: KafkaTesting.logger) { record, transaction in
                let step = record.value
                let index = Int(step.id.dropFirst())!
                let attempt = attempts.withLock { $0[step.id, default: 0] += 1; return $0[step.id]! }
                switch fates[index] {
                case .poison: throw NonRetriableError("poison record \(step.id)")
                case .transientOnce where attempt == 1: throw Transient()
                case .slow: try await Task.sleep(for: .milliseconds(15))
                default: try await Task.sleep(for: .milliseconds(2))
                }
                try await transaction.execute("INSERT INTO effects VALUES (?, ?, ?)",
                                              [.text(step.id), .text(step.key), .integer(Int64(step.seq))])
            })
        }
        @Sendable func finished(_ workers: [RunningWorker]) -> Int {
            workers.reduce(0) { $0 + $1.worker.statistics.processed + $1.worker.statistics.deadLettered }
        }
        // The group's schedule, from the seed: when a second member joins, when a third joins and is stopped by
        // force (its running records abandoned: redelivered), when the second leaves gracefully.
        var rng = SplitMix(seed: seed)
        let joinAt = Int.random(in: 200...600, using: &rng), loseAt = Int.random(in: 700...1_200, using: &rng)
        let leaveAt = Int.random(in: 1_300...1_800, using: &rng)
        let a = worker()
        var everyone = [a]
        try await waitUntil("\(joinAt) finished", within: .seconds(60)) { finished([a]) >= joinAt }
        let b = worker()
        everyone.append(b)
        try await waitUntil("\(loseAt) finished", within: .seconds(60)) { finished([a, b]) >= loseAt }
        let c = worker()
        everyone.append(c)
        try await waitUntil("c was assigned", within: .seconds(30)) { !c.events(.assigned).isEmpty || finished([a, b]) >= count - 200 }
        try await c.stop(force: true)
        try await waitUntil("\(leaveAt) finished", within: .seconds(60)) { [everyone] in finished(everyone) >= leaveAt }
        try await b.stop()
        // Every record applied or dead-lettered, and the group's offsets at the end.
        try await waitFor("every record applied", within: .seconds(90)) {
            let applied = try? await store.withMarkers([]) { transaction, _ in
                try await transaction.execute("SELECT count(DISTINCT id) FROM effects")
            }
            return applied?.first?.first?.integer == Int64(count - poison.count)
        }
        let group = configuration.groupID
        for partition in 0..<partitions {
            let end = Int64(steps.filter { Int($0.key.dropFirst())! % partitions == partition }.count)
            try await waitFor("partition \(partition) committed at \(end)", within: .seconds(30)) {
                (try? await KafkaTesting.committed(group, topic, partition: Int32(partition))) == end
            }
        }
        try await a.stop()

        let effects = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("SELECT id, key, seq FROM effects ORDER BY rowid")
        }
        var applications: [String: Int] = [:]
        var lastSeq: [String: Int64] = [:]
        var reordered: [String] = []
        for row in effects {
            guard case .text(let id) = row[0], case .text(let key) = row[1], case .integer(let seq) = row[2] else { continue }
            applications[id, default: 0] += 1
            if ordering != .unordered, let last = lastSeq[key], seq <= last { reordered.append("\(key): \(seq) after \(last)") }
            lastSeq[key] = max(lastSeq[key] ?? -1, seq)
        }
        let twice = applications.filter { $0.value > 1 }.keys.sorted()
        let lost = steps.map(\.id).filter { applications[$0] == nil && !poison.contains($0) }
        let poisonApplied = poison.filter { applications[$0] != nil }
        #expect(twice.isEmpty, "seed \(seed): applied twice: \(twice.prefix(10))")
        #expect(lost.isEmpty, "seed \(seed): never applied: \(lost.prefix(10))")
        #expect(poisonApplied.isEmpty, "seed \(seed): poison applied: \(poisonApplied.prefix(10))")
        #expect(reordered.isEmpty, "seed \(seed), \(ordering): out of order: \(reordered.prefix(10))")

        // Exactly the poison records were dead-lettered (a redelivered one may be dead-lettered again: at least once).
        let letters = try await KafkaTesting.consumer(subscribedTo: configuration.deadLetter.topicName(topic))
        let lettered = Mutex<Set<String>>([])
        let reader = Task {
            for try await batch in letters.batches {
                let ids = batch.compactMap { try? JSONDecoder().decode(Step.self, from: Data($0.value ?? [])).id }
                lettered.withLock { $0.formUnion(ids) }
            }
        }
        try await waitFor("every poison record dead-lettered", within: .seconds(30)) {
            lettered.withLock { $0.isSuperset(of: poison) }
        }
        try await Task.sleep(for: .seconds(1))
        await letters.close()
        _ = try? await reader.value
        let unexpected = lettered.withLock { $0 }.subtracting(poison)
        #expect(unexpected.isEmpty, "seed \(seed): dead-lettered but not poison: \(unexpected.sorted().prefix(10))")
    }
}
