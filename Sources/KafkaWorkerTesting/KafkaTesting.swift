import Foundation
public import KafkaClient
public import KafkaWorker
public import Logging
import Synchronization

/// Helpers for tests against the embedded cluster: one shared cluster for tests that inject no faults, unique
/// names, group timing fit for the embedded cluster, producing and collecting records, deadlines.
public enum KafkaTesting {
    /// The cluster shared by tests that do not inject faults (each uses its own topics and groups).
    public static let shared: EmbeddedKafkaCluster = {
        do {
            let cluster = try EmbeddedKafkaCluster(brokers: 3, logger: logger)
            TestProcessEnd.install
            return cluster
        } catch {
            preconditionFailure("the shared embedded cluster did not start: \(error)")
        }
    }()

    public static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return logger
    }()

    private static let counter = Mutex(0)

    /// A name no other test uses.
    public static func unique(_ prefix: String) -> String {
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(n)"
    }

    /// Creates a fresh topic on `cluster`.
    public static func topic(_ prefix: String = "t", partitions: Int = 1, on cluster: EmbeddedKafkaCluster = shared) throws -> String {
        let name = unique(prefix)
        try cluster.createTopic(name, partitions: partitions)
        return name
    }

    /// Consumer settings for the embedded cluster: short sessions so rebalances stay short (classic protocol; under
    /// the consumer protocol, KIP-848, session timing is the broker's and stays at the defaults).
    public static func consumerConfiguration(
        _ cluster: EmbeddedKafkaCluster = shared, group: String,
        groupProtocol: KafkaConsumerConfiguration.GroupProtocol = .classic
    ) -> KafkaConsumerConfiguration {
        consumerConfiguration(bootstrapServers: cluster.bootstrapServers, group: group, groupProtocol: groupProtocol)
    }

    /// A consumer of `topic` in a group of its own (or `group`), already subscribed.
    public static func consumer(subscribedTo topic: String, group: String? = nil, cluster: EmbeddedKafkaCluster = shared,
                         configure: (inout KafkaConsumerConfiguration) -> Void = { _ in }) async throws -> KafkaConsumer {
        var configuration = consumerConfiguration(cluster, group: group ?? unique("g"))
        configure(&configuration)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try await consumer.subscribe(topics: [topic])
        return consumer
    }

    /// Worker settings for the embedded cluster: fast group timing, short summaries, quick retries.
    public static func workerConfiguration(_ cluster: EmbeddedKafkaCluster = shared, group: String? = nil,
                                           topics: [String],
                                           groupProtocol: KafkaConsumerConfiguration.GroupProtocol = .classic) -> WorkerConfiguration {
        workerConfiguration(bootstrapServers: cluster.bootstrapServers, group: group, topics: topics, groupProtocol: groupProtocol)
    }

    public static func producer(_ cluster: EmbeddedKafkaCluster = shared) throws -> KafkaProducer {
        try KafkaProducer(configuration: producerConfiguration(bootstrapServers: cluster.bootstrapServers), logger: logger)
    }

    /// Produces `count` records `key-i`/`value-i` (partition `i % partitions` when `partitions` is given).
    @discardableResult
    public static func produce(_ count: Int, to topic: String, partitions: Int? = nil, from start: Int = 0,
                        cluster: EmbeddedKafkaCluster = shared) async throws -> [KafkaDeliveryReport] {
        let producer = try producer(cluster)
        let records = (start..<start + count).map { index in
            KafkaProducerRecord(topic: topic, partition: partitions.map { Int32(index % $0) },
                                key: "key-\(index)", value: "value-\(index)")
        }
        let reports = try await producer.sendAll(records).map { try $0.get() }
        await producer.close()
        return reports
    }

    /// Reads records until `count` arrived (or the time limit passes, which fails the test).
    public static func collect(_ count: Int, from consumer: KafkaConsumer, within limit: Duration = .seconds(30),
                        storeOffsets: Bool = true) async throws -> [KafkaRecord] {
        try await withDeadline(limit, "collecting \(count) records") {
            var records: [KafkaRecord] = []
            for try await batch in consumer.batches {
                records += batch
                if storeOffsets { consumer.storeOffsets(batch.nextOffsets) }
                if records.count >= count { break }
            }
            return records
        }
    }
}

/// A test step took longer than its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "deadline exceeded: \(what)" }
}

/// Runs `body`, failing with ``DeadlineExceeded`` if it takes longer than `limit`.
///
/// The caller is let go at the deadline even when `body` ignores its cancellation (a call that never returns): a
/// task group would wait for it, and a hung step would hang the whole test run instead of failing one test.
public func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T
{
    let outcome = Latch<Result<T, any Error>>()
    let work = Task {
        do { outcome.resolve(.success(try await body())) } catch { outcome.resolve(.failure(error)) }
    }
    return try await withTaskCancellationHandler {
        guard let result = await outcome.wait(within: limit) else {
            work.cancel()
            throw DeadlineExceeded(what: what)
        }
        return try result.get()
    } onCancel: {
        work.cancel()
    }
}

extension KafkaRecord {
    /// The key as UTF-8 text.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    /// The value as UTF-8 text.
    public var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// Polls `condition` every 20 ms until it holds; throws ``DeadlineExceeded`` after `limit`.
public func waitUntil(_ what: String, within limit: Duration = .seconds(30), _ condition: @escaping @Sendable () -> Bool)
    async throws
{
    try await withDeadline(limit, what) {
        while !condition() { try await Task.sleep(for: .milliseconds(20)) }
    }
}

/// Like ``waitUntil(_:within:_:)`` for a condition that must ask something asynchronously (every 100 ms).
public func waitFor(_ what: String, within limit: Duration = .seconds(30),
                    _ condition: @escaping @Sendable () async -> Bool) async throws {
    try await withDeadline(limit, what) {
        while !(await condition()) { try await Task.sleep(for: .milliseconds(100)) }
    }
}

