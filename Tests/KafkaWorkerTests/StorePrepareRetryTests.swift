import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

/// A store whose preparation fails with a transient error a number of times (a database restarting just as the
/// worker starts), then works like the in-memory store.
final class RestartingStore: IdempotencyStore {
    let failuresLeft: Mutex<Int>
    let inner = InMemoryIdempotencyStore()
    init(failures: Int) { failuresLeft = Mutex(failures) }

    func prepare() async throws {
        let fail = failuresLeft.withLock { left in
            defer { left -= 1 }
            return left > 0
        }
        if fail { throw TransientStoreError(reason: "the database system is starting up (SQLSTATE 57P03)") }
        try await inner.prepare()
    }
    func withMarkers<Result: Sendable>(_ markers: [ProcessedMarker],
                                       _ body: (InMemoryIdempotencyStore.Transaction, [Bool]) async throws -> Result) async throws -> Result {
        try await inner.withMarkers(markers, body)
    }
    func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                       recordedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await inner.removeMarkers(group: group, partition: partition, below: committedOffset, recordedBefore: cutoff, limit: limit)
    }
}

@Suite("A store unavailable while the worker starts", .timeLimit(.minutes(2)))
struct StorePrepareRetryTests {
    @Test("transient failures of prepare() are retried within storePrepareTimeout; the worker then starts and handles everything")
    func transientPrepareFailuresAreRetried() async throws {
        let topic = try KafkaTesting.topic("prepare-retry")
        try await KafkaTesting.produce(20, to: topic)
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.storePrepareTimeout = .seconds(10)
        let store = RestartingStore(failures: 3)
        let handled = Mutex(0)
        let worker = KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(),
                                 idempotency: Idempotency(store: store, key: .topicPartitionOffset),
                                 logger: KafkaTesting.logger) { (_: WorkerRecord<KafkaRecord>, _) in handled.withLock { $0 += 1 } }
        let running = Task { try await worker.run() }
        try await waitUntil("20 records handled", within: .seconds(30)) { handled.withLock { $0 } == 20 }
        worker.stop()
        try await running.value
        #expect(store.failuresLeft.withLock { $0 } < 0, "prepare() was called again after its failures")
    }

    @Test("a store still unavailable after storePrepareTimeout fails the start, naming the key, within the bound")
    func persistentFailureFailsWithinTheBound() async throws {
        let store = RestartingStore(failures: .max)
        let worker = Self.idleWorker(store, prepareTimeout: .seconds(2))
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaConfigurationError.self) { try await worker.run() }
        let took = ContinuousClock.now - started
        #expect(error?.key == "idempotency.store")
        #expect(took >= .milliseconds(1_900) && took < .seconds(10), "retried until the bound, then failed: \(took)")
        // Retried, not failed at the first error (how many times depends on how busy the machine is: the back-off
        // doubles from 0.2 s, so an idle one tries four times in 2 s).
        #expect(Int.max - store.failuresLeft.withLock { $0 } >= 2, "prepare() was tried again after its first failure")
        #expect(worker.isStopped)
    }

    @Test("a stop asked for while the store is still unavailable ends run() at once, without an error")
    func stopWhileWaitingForTheStore() async throws {
        let store = RestartingStore(failures: .max)
        let worker = Self.idleWorker(store, prepareTimeout: .seconds(30))
        let running = Task { try await worker.run() }
        try await waitUntil("prepare() failed twice", within: .seconds(10)) { Int.max - store.failuresLeft.withLock { $0 } >= 2 }
        let stopped = ContinuousClock.now
        worker.stop()
        try await running.value
        #expect(ContinuousClock.now - stopped < .seconds(2))
        #expect(worker.isStopped)
    }

    /// A worker of a topic nobody writes to, on `store`.
    static func idleWorker(_ store: RestartingStore, prepareTimeout: Duration) -> KafkaWorker {
        var configuration = KafkaTesting.workerConfiguration(topics: ["never-read"])
        configuration.storePrepareTimeout = prepareTimeout
        return KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(),
                           idempotency: Idempotency(store: store, key: .topicPartitionOffset),
                           logger: KafkaTesting.logger) { (_: WorkerRecord<KafkaRecord>, _) in }
    }
}
