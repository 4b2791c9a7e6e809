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
        let partitions = 3, count = 3_000
        let topic = try KafkaTesting.topic("graceful-\(ordering)", partitions: partitions)
        try await produce((0..<count).map { index in
            itemRecord(topic: topic, id: "i\(index)", key: "k\(index % 97)", partition: Int32(index % partitions))
        })
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.ordering = ordering
        configuration.maxConcurrency = 32
        let ledger = Ledger()
        // Keys 0–9 are slow (8 ms), the rest quick (0–1 ms): lanes drift apart within a partition.
        let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
            let index = Int(record.value.id.dropFirst())!
            try await Task.sleep(for: .milliseconds(index % 97 < 10 ? 8 : index % 2))
            ledger.note(record.value.id)
        }
        let first = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                              logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("a third handled", within: .seconds(60)) { ledger.total >= count / 3 }
        try await first.stop()
        let handledFirst = ledger.total
        let stopped = try #require(first.events(.shutdown).last?.message)
        #expect(!stopped.contains("above the commit"), "\(stopped)")

        let second = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                               logger: KafkaTesting.logger, handler: handler))
        try await waitUntil("every record handled", within: .seconds(90)) { Set(ledger.order).count == count }
        try await Task.sleep(for: .milliseconds(300))
        try await second.stop()
        let twice = ledger.attempts.filter { $0.value > 1 }.keys.sorted()
        let summary = "\(ordering): \(twice.count) records handled twice after the restart (the first worker handled \(handledFirst))"
        #expect(twice.isEmpty, "\(summary): \(twice.prefix(10))")
    }
}
