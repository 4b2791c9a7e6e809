internal import Crdkafka
public import Logging
import Synchronization

/// An in-process Kafka cluster for tests and local development: librdkafka's mock cluster, listening on
/// 127.0.0.1 (random ports), usable by any Kafka client (kcat, Python clients, other processes).
///
/// Limits (librdkafka 2.0.2): no SASL/SSL and no admin requests (create topics with ``createTopic(_:partitions:replicationFactor:)``);
/// at most 5 MiB or 100,000 batches kept per partition (older data is dropped silently); the first group join
/// waits 3 s and later rebalances `session.timeout.ms − 1 s`, so tests use `session.timeout.ms = 6000`.
///
/// Faults can be injected: request errors per API, broker down/up, round-trip times, leader and
/// coordinator moves. Stop with ``stop()`` (or let it go out of scope).
public final class EmbeddedKafkaCluster: Sendable {
    /// `host:port` of every broker.
    public let bootstrapServers: [String]
    /// Broker ids run from 1 to `brokerCount`.
    public let brokerCount: Int
    private let owner: RDKafkaClient
    /// The mock cluster, `nil` once stopped. Every call holds the lock, so none races `stop()`.
    private let cluster: Mutex<MockClusterPointer?>

    /// `@unchecked Sendable`: only used while `cluster`'s lock is held.
    private struct MockClusterPointer: @unchecked Sendable { let pointer: OpaquePointer }

    /// Starts `brokers` brokers on loopback.
    public init(brokers: Int = 1, logger: Logger = Logger(label: "kafka.embedded")) throws(KafkaError) {
        guard (1...32).contains(brokers) else {
            throw KafkaError(code: .invalidArgument, operation: "embedded cluster",
                             message: "brokers = \(brokers) is outside the accepted range 1...32")
        }
        var props = KafkaProperties()
        props["client.id"] = "embedded-kafka"
        // The owning handle never connects anywhere; its "no bootstrap.servers" notice is noise.
        props["log_level"] = "4"
        do {
            owner = try RDKafkaClient(kind: .producer, properties: props,
                                      callbacks: RDKafkaCallbacks(logger: logger, secrets: []))
        } catch {
            throw KafkaError(code: .failed, operation: "embedded cluster", message: error.description)
        }
        guard let mock = rd_kafka_mock_cluster_new(owner.pointer, Int32(brokers)) else {
            throw KafkaError(code: .failed, operation: "embedded cluster",
                             message: "librdkafka could not start the mock cluster (are loopback ports available?)")
        }
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mock)).split(separator: ",").map(String.init)
        brokerCount = brokers
        cluster = Mutex(MockClusterPointer(pointer: mock))
        logger.info("embedded Kafka cluster started", metadata: ["bootstrap.servers": "\(bootstrapServers.joined(separator: ","))"])
    }

    deinit { stop() }

    /// `bootstrap.servers` as one comma-separated string.
    public var bootstrapServersString: String { bootstrapServers.joined(separator: ",") }

    /// Stops every broker and frees the cluster. Idempotent. Clients still connected see their connections close.
    public func stop() {
        cluster.withLock { cluster in
            if let mock = cluster { rd_kafka_mock_cluster_destroy(mock.pointer) }
            cluster = nil
        }
    }

    /// Creates a topic (the embedded cluster does not take CreateTopics requests).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        guard partitions > 0, (1...brokerCount).contains(replicationFactor) else {
            throw KafkaError(code: .invalidArgument, operation: "create topic",
                             message: "partitions must be ≥ 1 and replicationFactor in 1...\(brokerCount)")
        }
        try call("create topic") { rd_kafka_mock_topic_create($0, name, Int32(partitions), Int32(replicationFactor)) }
    }

    /// The next `errors.count` requests of `api` (from any client, to any broker) fail with these errors, in order.
    public func injectRequestErrors(_ errors: [KafkaError.Code], for api: KafkaAPI) throws(KafkaError) {
        var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        try call("inject errors") { mock in
            rd_kafka_mock_push_request_errors_array(mock, api.key, codes.count, &codes)
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// Forgets errors injected for `api` that no request has consumed yet.
    public func clearRequestErrors(for api: KafkaAPI) throws(KafkaError) {
        try call("clear errors") { mock in
            rd_kafka_mock_clear_request_errors(mock, api.key)
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// The next requests of `api` to broker `broker` answer with these errors after these delays, in order.
    public func injectBrokerRequestErrors(broker: Int32, api: KafkaAPI,
                                          _ errors: [(code: KafkaError.Code, delay: Duration)]) throws(KafkaError) {
        for (code, delay) in errors {
            try call("inject broker errors") {
                kw_mock_broker_push_request_error_rtt($0, broker, api.key, rd_kafka_resp_err_t(rawValue: code.rawValue),
                                                      Int32(clamping: delay.wholeMilliseconds))
            }
        }
    }

    /// Every request about `topic` fails with `error` (`.noError` clears it).
    public func setTopicError(_ topic: String, _ error: KafkaError.Code) throws(KafkaError) {
        try call("set topic error") { mock in
            rd_kafka_mock_topic_set_error(mock, topic, rd_kafka_resp_err_t(rawValue: error.rawValue))
            return RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// Takes broker `id` down: its connections close and it accepts none until ``setBrokerUp(_:)``.
    public func setBrokerDown(_ id: Int32) throws(KafkaError) {
        try call("broker down") { rd_kafka_mock_broker_set_down($0, id) }
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) throws(KafkaError) {
        try call("broker up") { rd_kafka_mock_broker_set_up($0, id) }
    }

    /// Delays every answer of broker `id` by `rtt`.
    public func setBrokerRoundTripTime(_ id: Int32, _ rtt: Duration) throws(KafkaError) {
        try call("broker rtt") { rd_kafka_mock_broker_set_rtt($0, id, Int32(clamping: rtt.wholeMilliseconds)) }
    }

    /// Makes `broker` the leader of a partition; `-1` leaves it without a leader.
    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try call("set leader") { rd_kafka_mock_partition_set_leader($0, topic, partition, broker) }
    }

    /// Makes `broker` the coordinator of consumer group `group`.
    public func setGroupCoordinator(group: String, broker: Int32) throws(KafkaError) {
        try call("set coordinator") { rd_kafka_mock_coordinator_set($0, "group", group, broker) }
    }

    private func call(_ operation: String, _ body: (OpaquePointer) -> rd_kafka_resp_err_t) throws(KafkaError) {
        let err: rd_kafka_resp_err_t? = cluster.withLock { cluster in cluster.map { body($0.pointer) } }
        guard let err else {
            throw KafkaError(code: .destroyed, operation: operation, message: "the embedded cluster was stopped")
        }
        try KafkaError.check(err, operation: operation)
    }
}
