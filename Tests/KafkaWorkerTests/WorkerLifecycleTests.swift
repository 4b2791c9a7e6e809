import Foundation
import KafkaClient
@testable import KafkaWorker
import KafkaWorkerTesting
import Metrics
import MetricsTestKit
import Logging
import Synchronization
import Testing

/// Metrics go to a test factory for the whole process (swift-metrics takes one bootstrap per process).
let testMetrics: TestMetrics = {
    let factory = TestMetrics()
    MetricsSystem.bootstrap(factory)
    return factory
}()

/// A store whose preparation always fails (an unreachable database).
struct FailingStore: IdempotencyStore {
    struct Unreachable: Error {}
    func prepare() async throws { throw Unreachable() }
    func withMarkers<Result: Sendable>(_ markers: [ProcessedMarker], _ body: ((), [Bool]) async throws -> Result) async throws -> Result {
        try await body((), markers.map { _ in true })
    }
    func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                       recordedBefore cutoff: Date, limit: Int) async throws -> Int { 0 }
}

@Suite("Worker life cycle, settings and metric families", .timeLimit(.minutes(2)))
struct WorkerLifecycleTests {
    @Test("commit failures are one metric family with one label set (group and code)")
    func commitFailureFamilyHasOneLabelSet() {
        let metrics = testMetrics  // bootstrapped before the worker's metrics are made
        let group = KafkaTesting.unique("metrics")
        WorkerMetrics(group: group).commitFailed("REBALANCE_IN_PROGRESS")
        let counters = metrics.counters(label: "kafka_worker_commit_failures_total")
        #expect(!counters.isEmpty)
        for counter in counters {
            #expect(counter.dimensions.map(\.0).sorted() == ["code", "group"], "\(counter.dimensions)")
        }
        #expect(metrics.counterTotal(label: "kafka_worker_commit_failures_total",
                                         dimensions: [("group", group), ("code", "REBALANCE_IN_PROGRESS")]) == 1)
    }

    @Test("a run that fails to start leaves the worker stopped, and a second run() is refused")
    func failedStartIsFinal() async throws {
        let worker = KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: ["never-read"]),
                                 decoder: RawRecordDecoder(),
                                 idempotency: Idempotency(store: FailingStore(), key: .topicPartitionOffset),
                                 logger: KafkaTesting.logger) { _, _ in }
        await #expect(throws: KafkaConfigurationError.self) { try await worker.run() }
        #expect(worker.isStopped, "a worker whose start failed is not left looking alive")
        let second = await #expect(throws: KafkaConfigurationError.self) { try await worker.run() }
        #expect(second?.key == "run")
    }

    @Test("two concurrent run() calls: exactly one runs")
    func concurrentRunsStartOnce() async throws {
        let topic = try KafkaTesting.topic("run-once")
        let worker = KafkaWorker(configuration: KafkaTesting.workerConfiguration(topics: [topic]), decoder: RawRecordDecoder(),
                                 logger: KafkaTesting.logger) { _ in }
        async let first: Result<Void, any Error> = { do { try await worker.run(); return .success(()) } catch { return .failure(error) } }()
        async let second: Result<Void, any Error> = { do { try await worker.run(); return .success(()) } catch { return .failure(error) } }()
        try await Task.sleep(for: .seconds(2))
        worker.stop()
        let results = await [first, second]
        let refused = results.filter { if case .failure(let error) = $0 { (error as? KafkaConfigurationError)?.key == "run" } else { false } }
        #expect(refused.count == 1, "\(results)")
    }

    @Test("a drain allowed longer than the hook that awaits it is refused at start, naming both settings")
    func drainLongerThanHookTimeout() {
        var configuration = KafkaTesting.workerConfiguration(topics: ["t"])
        configuration.consumer.rebalanceHookTimeout = .seconds(10)
        configuration.revokeDrainTimeout = .seconds(10)
        #expect { try configuration.validate() } throws: { error in
            let error = error as? KafkaConfigurationError
            return error?.key == "revokeDrainTimeout" && error?.message.contains("rebalanceHookTimeout") == true
        }
    }

    @Test("raw properties may not undo the worker's guarantees or shadow typed settings", arguments: [
        ("enable.auto.offset.store", "true"), ("group.id", "other"), ("enable.auto.commit", "false"),
        ("partition.assignment.strategy", "range"),
    ])
    func reservedRawProperties(key: String, value: String) {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g")
        configuration.connection.additionalProperties[key] = value
        #expect { try configuration.validate() } throws: { error in
            (error as? KafkaConfigurationError)?.key.contains(key) == true
        }
    }
}

@Suite("JSON logs on a full disk")
struct JSONLogOnFullDiskTests {
    @Test("a line that cannot be written is counted and dropped; the process goes on")
    func fullDisk() throws {
        let output = try JSONLogHandler.Output(console: false, filePath: "/dev/full")
        var logger = Logger(label: "full") { label in JSONLogHandler(label: label, output: output) }
        logger.logLevel = .info
        for index in 0..<3 { logger.info("line \(index)") }
        #expect(output.failedWrites.load(ordering: .relaxed) == 3)
    }
}
