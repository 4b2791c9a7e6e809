import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

private let canTalk = TansuBroker.expected && TansuBroker.librdkafkaCanTalkToTansu
private let oldLibrary = TansuBroker.expected && !TansuBroker.librdkafkaCanTalkToTansu

/// The worker against Tansu, an independent broker: its group coordinator, commits and rebalances are not
/// librdkafka's mock.
@Suite("Tansu: a worker group", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: canTalk, Comment(rawValue: "needs Tansu (KAFKA_WORKER_TEST_TANSU, set by ./scripts/test) and "
                                        + "librdkafka ≥ 2.2.0; loaded: \(KafkaLibrary.version)")))
struct TansuWorkerGroupTests {
    @Test("two workers share a topic through a rebalance: every record handled once, commits reach the end",
          arguments: [KafkaConsumerConfiguration.AssignmentStrategy.eager, .cooperativeSticky])
    func twoMembers(strategy: KafkaConsumerConfiguration.AssignmentStrategy) async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("wg", partitions: 4)
            let servers = broker.bootstrapServers
            try await KafkaTesting.send((0..<200).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 4)) },
                                        to: servers)
            var configuration = KafkaTesting.workerConfiguration(bootstrapServers: servers, topics: [topic])
            configuration.consumer.assignmentStrategy = strategy
            let seen = Ledger()
            let handler: @Sendable (WorkerRecord<Item>) async throws -> Void = { record in
                try await Task.sleep(for: .milliseconds(5))  // slow enough that a rebalance meets work in flight
                seen.note(record.value.id)
            }
            let a = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                              logger: KafkaTesting.logger, handler: handler))
            try await waitUntil("a handles some records", within: .seconds(30)) { seen.total >= 20 }
            let b = RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                              logger: KafkaTesting.logger, handler: handler))
            try await waitUntil("b gets partitions from a", within: .seconds(60)) {
                !b.events(.assigned).flatMap(\.partitions).isEmpty && !a.events(.revoked).isEmpty
            }
            try await KafkaTesting.send((200..<400).map { itemRecord(topic: topic, id: "i\($0)", partition: Int32($0 % 4)) },
                                        to: servers)
            try await waitUntil("all 400 handled", within: .seconds(60)) { Set(seen.order).count == 400 }
            try await a.stop()
            try await b.stop()

            #expect(seen.attempts.values.allSatisfy { $0 == 1 },
                    "handled twice: \(seen.attempts.filter { $0.value > 1 }.keys.sorted())")
            #expect(seen.total == 400)
            let handledByB = b.events(.assigned).flatMap(\.partitions)
            #expect(!handledByB.isEmpty && a.events(.revoked).count >= 1)
            let admin = try KafkaAdmin(connection: .init(bootstrapServers: servers), logger: KafkaTesting.logger)
            let partitions = (0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
            let committed = try await admin.committedOffsets(group: configuration.groupID, partitions: partitions)
            // Each partition got 100 records (offsets 0...99, all delivered). Not Tansu's watermarks: after batched
            // produces its end offsets are wrong (see TansuClientTests.latestOffsetOfABatch).
            #expect(committed.map(\.offset) == [100, 100, 100, 100], "committed offsets are the end offsets")
        }
    }
}

@Suite("Tansu with librdkafka < 2.2.0: the worker fails clearly", .timeLimit(.minutes(2)),
       .enabled(if: oldLibrary, Comment(rawValue: "needs Tansu and librdkafka < 2.2.0; loaded: \(KafkaLibrary.version)")))
struct TansuOldLibraryWorkerTests {
    @Test("run() throws the ApiVersion handshake diagnosis within 3 s")
    func workerFailsClearly() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("old-w")
            let configuration = KafkaTesting.workerConfiguration(bootstrapServers: broker.bootstrapServers, topics: [topic])
            let worker = KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                     logger: KafkaTesting.logger) { _ in }
            let started = ContinuousClock.now
            let error = await #expect(throws: KafkaError.self) {
                try await withDeadline(.seconds(20), "worker run") { try await worker.run() }
            }
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(error?.code == .unsupportedVersion, "\(String(describing: error))")
            #expect(error?.message.contains("librdkafka ≥ 2.2.0") == true)
        }
    }
}
