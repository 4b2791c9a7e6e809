import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Testing

/// With an idempotency store, a dead-lettered record is marked processed once its dead letter is published: when
/// it is delivered again (its commit failed, a crash, a rebalance) it is skipped as a duplicate, not dead-lettered
/// a second time.
@Suite("A dead letter is recorded in the idempotency store", .timeLimit(.minutes(2)))
struct DeadLetterMarkerTests {
    @Test("a poison record delivered again after a failed commit is skipped, and the dead-letter topic holds one copy")
    func redeliveredPoisonIsNotDeadLetteredTwice() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1, logger: KafkaTesting.logger)
        let topic = try KafkaTesting.topic("dlq-marker", on: cluster)
        try cluster.createTopic(topic + ".dlq", partitions: 1)
        try await produce((0..<5).map { itemRecord(topic: topic, id: "i\($0)") }, cluster: cluster)
        var configuration = KafkaTesting.workerConfiguration(cluster, topics: [topic])
        configuration.consumer.commit.autoCommit = false  // only the shutdown commits, and it is made to fail
        let store = InMemoryIdempotencyStore()
        func worker() -> RunningWorker {
            RunningWorker(KafkaWorker(configuration: configuration, decoder: JSONRecordDecoder<Item>(),
                                      idempotency: Idempotency(store: store, key: .field("id") { $0.id }),
                                      logger: KafkaTesting.logger) { record, _ in
                if record.value.id == "i2" { throw NonRetriableError("poison i2") }
            })
        }
        let first = worker()
        try await waitUntil("4 handled, 1 dead-lettered") {
            first.worker.statistics.processed == 4 && first.worker.statistics.deadLettered == 1
        }
        // The shutdown's commit fails: everything is delivered again to the next worker of the group.
        try cluster.injectRequestErrors(Array(repeating: .groupAuthorizationFailed, count: 20), for: .offsetCommit)
        try await first.stop()
        try cluster.clearRequestErrors(for: .offsetCommit)
        #expect(try await committed(configuration.groupID, topic, cluster: cluster) <= 0, "nothing was committed")

        let second = worker()
        try await waitUntil("the five seen again") {
            second.worker.statistics.duplicatesSkipped + second.worker.statistics.deadLettered >= 5
        }
        try await second.stop()
        #expect(second.worker.statistics.deadLettered == 0, "the poison record was dead-lettered again")
        #expect(second.worker.statistics.duplicatesSkipped == 5)
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: cluster.bootstrapServers), logger: KafkaTesting.logger)
        let letters = try await admin.watermarks(for: KafkaTopicPartition(topic: topic + ".dlq", partition: 0))
        #expect(letters.high == 1, "one dead letter")
    }
}
