import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// A graceful stop in `.key` and `.unordered` mode, mid-backlog: lanes run far apart (slow and fast keys), so when the
/// stop comes many records above the lowest unfinished one are finished. The stop must finish the queued records
/// below each partition's highest finished one, so that the commit covers everything finished: a restarted worker
/// then handles nothing twice.
@Suite("A graceful stop leaves nothing finished behind the commit", .timeLimit(.minutes(3)))
struct GracefulStopRedeliveryTests {
    @Test("stop mid-backlog, restart: every record handled exactly once", arguments: [OrderingMode.key, .unordered])
    func stopAndRestart(ordering: OrderingMode) async throws {
        let (count, configuration) = try await Self.backlog("graceful-\(ordering)", ordering: ordering)
        let ledger = Ledger()
        let first = Self.worker(configuration, ledger)
        try await waitUntil("a third handled", within: .seconds(60)) { ledger.total >= count / 3 }
        try await first.stop()
        let handledFirst = ledger.total
        let stopped = try #require(first.events(.shutdown).last?.message)
        #expect(!stopped.contains("above the commit"), "\(stopped)")

        let second = Self.worker(configuration, ledger)
        try await waitUntil("every record handled", within: .seconds(90)) { Set(ledger.order).count == count }
        try await Task.sleep(for: .milliseconds(300))
        try await second.stop()
        let twice = ledger.attempts.filter { $0.value > 1 }.keys.sorted()
        let summary = "\(ordering): \(twice.count) records handled twice after the restart (the first worker handled \(handledFirst))"
        #expect(twice.isEmpty, "\(summary): \(twice.prefix(10))")
    }

    @Test("a revoke in .key mode drains: the next owner sees only what the first had not finished")
    func revokeDrains() async throws {
        let partitions = 2, count = 3_000
        let topic = try KafkaTesting.topic("drain-revoke", partitions: partitions)
        try await produce((0..<count).map { index in
            itemRecord(topic: topic, id: "i\(index)", key: "k\(index % 97)", partition: Int32(index % partitions))
        })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 32
        // Cooperative: only the moving partition is revoked; auto-commit off, so only the revoke commits it.
        configuration.consumer.assignmentStrategy = .cooperativeSticky
        configuration.consumer.commit.autoCommit = false
        let first = Ledger(), second = Ledger()
        // Keys 0–9 wait until the revoke begins (bounded): their lanes lag, the others run ahead, so when the revoke
        // comes the moved partition has many finished records above its lowest unfinished one.
        let revokeBegan = Latch<Bool>()
        func handler(_ ledger: Ledger) -> @Sendable (WorkerRecord<Item>) async throws -> Void {
            { record in
                let index = Int(record.value.id.dropFirst())!
                if index % 97 < 10 {
                    let deadline = ContinuousClock.now + .seconds(60)
                    while !revokeBegan.isResolved && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                }
                try await Task.sleep(for: .milliseconds(1))
                ledger.note(record.value.id)
            }
        }
        let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler(first)))
        try await waitUntil("a ran ahead on the quick keys", within: .seconds(60)) { first.total >= 1_000 }
        let watcher = Task {
            while a.events(.rebalancing).isEmpty { try await Task.sleep(for: .milliseconds(2)) }
            revokeBegan.resolve(true)
        }
        let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                          logger: KafkaTesting.logger, handler: handler(second)))
        try await waitUntil("a gives a partition to b", within: .seconds(60)) {
            !b.events(.assigned).flatMap(\.partitions).isEmpty && !a.events(.revoked).isEmpty
        }
        try await watcher.value
        let moved = try #require(a.events(.revoked).first?.partitions.first)
        let commit = try #require(a.events(.committed).first { $0.offsets.contains { $0.topicPartition == moved } })
        try await waitUntil("every record handled", within: .seconds(120)) {
            Set(first.order).union(second.order).count == count
        }
        try await a.stop()
        try await b.stop()
        let movedIDs = Set((0..<count).filter { Int32($0 % partitions) == moved.partition }.map { "i\($0)" })
        let twice = Set(first.order).intersection(second.order).intersection(movedIDs).sorted()
        if let error = commit.error {
            // The embedded coordinator refuses some commits while a group joins (a real broker accepts this one).
            #expect(error.contains("REBALANCE_IN_PROGRESS"), "\(error)")
        } else {
            #expect(twice.isEmpty, "\(twice.count) records of \(moved) handled by both: \(twice.prefix(10))")
        }
    }

    @Test("a forced stop mid-backlog (no drain): the commit's metadata lists what finished above it; the restart skips it",
          arguments: [4_000, 12])
    func forcedStopSkipsFinished(metadataBytes: Int) async throws {
        let (count, backlog) = try await Self.backlog("forced-meta", ordering: .key)
        var configuration = backlog
        configuration.commitMetadataMaxBytes = metadataBytes
        let ledger = Ledger()
        let first = Self.worker(configuration, ledger)
        try await waitUntil("a third handled", within: .seconds(60)) { ledger.total >= count / 3 }
        try await first.stop(force: true)
        let stopped = try #require(first.events(.shutdown).last?.message)
        #expect(stopped.contains("above the commit"), "a forced stop leaves finished records above the commit: \(stopped)")

        let second = Self.worker(configuration, ledger)
        try await waitUntil("every record handled", within: .seconds(90)) { Set(ledger.order).count == count }
        try await Task.sleep(for: .milliseconds(300))
        try await second.stop()
        let twice = ledger.attempts.filter { $0.value > 1 }.keys.sorted()
        if metadataBytes >= 4_000 {
            // Records running when the stop came were abandoned: those (at most one per lane) may come back.
            #expect(twice.count <= configuration.maxConcurrency, "\(twice.count) handled twice: \(twice.prefix(10))")
        } else {
            // 12 bytes hold one small range at most: the rest comes back (at least once), and nothing is lost.
            #expect(Set(ledger.order).count == count)
        }
    }

    /// 3,000 records on 3 partitions, 97 keys, and a worker configuration with 32 lanes.
    static func backlog(_ prefix: String, ordering: OrderingMode) async throws -> (count: Int, configuration: WorkerConfiguration) {
        let partitions = 3, count = 3_000
        let topic = try KafkaTesting.topic(prefix, partitions: partitions)
        try await produce((0..<count).map { index in
            itemRecord(topic: topic, id: "i\(index)", key: "k\(index % 97)", partition: Int32(index % partitions))
        })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = ordering
        configuration.maxConcurrency = 32
        return (count, configuration)
    }

    /// Keys 0–9 are slow (8 ms), the rest quick (0–1 ms): lanes drift apart within a partition.
    static func drifting(_ ledger: Ledger) -> @Sendable (WorkerRecord<Item>) async throws -> Void {
        { record in
            let index = Int(record.value.id.dropFirst())!
            try await Task.sleep(for: .milliseconds(index % 97 < 10 ? 8 : index % 2))
            ledger.note(record.value.id)
        }
    }

    static func worker(_ configuration: WorkerConfiguration, _ ledger: Ledger) -> RunningWorker {
        RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                  logger: KafkaTesting.logger, handler: drifting(ledger)))
    }

    @Test("a record that fails while its partition drains is given up, not run again and again: the stop ends")
    func failingRecordInADrain() async throws {
        let topic = try KafkaTesting.topic("drain-poison")
        // Keys s0–s7 (slow lanes): three slow records, then one that does not decode. Then 400 quick records of
        // other keys, which run far ahead: when the stop comes, each slow lane's undecodable record lies below the
        // partition's highest finished one, so the drain runs it — and it fails.
        var records: [KafkaProducerRecord] = []
        for key in 0..<8 {
            for index in 0..<3 { records.append(itemRecord(topic: topic, id: "s\(key)-\(index)", key: "s\(key)", partition: 0)) }
            records.append(KafkaProducerRecord(topic: topic, partition: 0, key: "s\(key)", value: "not json"))
        }
        records += (0..<400).map { itemRecord(topic: topic, id: "q\($0)", key: "q\($0 % 50)", partition: 0) }
        try await produce(records)
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = .key
        configuration.maxConcurrency = 64
        let ledger = Ledger()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger) { record in
            if record.value.id.hasPrefix("s") { try await Task.sleep(for: .milliseconds(400)) }
            ledger.note(record.value.id)
        })
        try await waitUntil("the quick records handled", within: .seconds(60)) { ledger.order.filter { $0.hasPrefix("q") }.count == 400 }
        let stopAsked = ContinuousClock.now
        try await worker.stop()
        #expect(ContinuousClock.now - stopAsked < .seconds(15), "the stop took \(ContinuousClock.now - stopAsked)")
        #expect(worker.worker.statistics.deadLettered == 0, "a drain does not dead-letter (the record comes back)")
    }
}
