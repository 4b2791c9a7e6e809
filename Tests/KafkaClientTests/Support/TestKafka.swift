import Foundation
import KafkaClient
import Logging
import Synchronization
import Testing

/// Shared helpers: one embedded cluster for tests that inject no faults, unique names, fast group timing.
enum TestKafka {
    /// The cluster shared by tests that do not inject faults (each uses its own topics and groups).
    static let shared: EmbeddedKafkaCluster = {
        do { return try EmbeddedKafkaCluster(brokers: 3, logger: logger) } catch { fatalError("embedded cluster: \(error)") }
    }()

    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return logger
    }()

    private static let counter = Mutex(0)

    /// A name no other test uses.
    static func unique(_ prefix: String) -> String {
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(n)"
    }

    /// Creates a fresh topic on `cluster`.
    static func topic(_ prefix: String = "t", partitions: Int = 1, on cluster: EmbeddedKafkaCluster = shared) throws -> String {
        let name = unique(prefix)
        try cluster.createTopic(name, partitions: partitions)
        return name
    }

    /// Consumer settings for the embedded cluster: short sessions so rebalances stay short.
    static func consumerConfiguration(_ cluster: EmbeddedKafkaCluster = shared, group: String) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: cluster.bootstrapServers, groupID: group)
        configuration.session.timeout = .seconds(6)
        configuration.session.heartbeatInterval = .seconds(1)
        configuration.fetch.maxWait = .milliseconds(100)
        configuration.commit.interval = .seconds(1)
        configuration.connection.connectTimeout = .seconds(5)
        configuration.rebalanceHookTimeout = .seconds(10)
        return configuration
    }

    /// A consumer of `topic` in a group of its own (or `group`), already subscribed.
    static func consumer(subscribedTo topic: String, group: String? = nil, cluster: EmbeddedKafkaCluster = shared,
                         configure: (inout KafkaConsumerConfiguration) -> Void = { _ in }) throws -> KafkaConsumer {
        var configuration = consumerConfiguration(cluster, group: group ?? unique("g"))
        configure(&configuration)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: [topic])
        return consumer
    }

    static func producer(_ cluster: EmbeddedKafkaCluster = shared) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.deliveryTimeout = .seconds(20)
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// Produces `count` records `key-i`/`value-i` (partition `i % partitions` when `partitions` is given).
    @discardableResult
    static func produce(_ count: Int, to topic: String, partitions: Int? = nil, from start: Int = 0,
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
    static func collect(_ count: Int, from consumer: KafkaConsumer, within limit: Duration = .seconds(30),
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

struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var description: String { "deadline exceeded: \(what)" }
}

/// Runs `body`, failing with ``DeadlineExceeded`` if it takes longer than `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T)
    async throws -> T
{
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

extension KafkaRecord {
    var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}
