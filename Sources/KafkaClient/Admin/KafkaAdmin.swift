internal import Crdkafka
public import Logging

/// Cluster administration: committed offsets of any group, topic creation, partition counts, watermarks.
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient
    private let connection: KafkaConnectionConfiguration
    private let logger: Logger
    private let blocking = BlockingCalls(label: "kafka.admin")

    /// - Throws: ``KafkaConfigurationError`` naming the first invalid key.
    public init(connection: KafkaConnectionConfiguration, logger: Logger = Logger(label: "kafka.admin"))
        throws(KafkaConfigurationError)
    {
        var props = KafkaProperties()
        try connection.apply(to: &props)
        try connection.applyAdditional(to: &props, reserved: [:])
        self.client = try RDKafkaClient(
            kind: .producer, properties: props,
            callbacks: RDKafkaCallbacks(logger: logger, secrets: props.secretValues))
        self.connection = connection
        self.logger = logger
    }

    /// The committed offsets of `group` for `partitions` (``KafkaOffset/invalid`` where none is committed).
    /// Reads them as a non-member of the group, so it works while the group is running.
    public func committedOffsets(group: String, partitions: [KafkaTopicPartition], timeout: Duration = .seconds(10))
        async throws -> [KafkaTopicPartitionOffset]
    {
        var props = KafkaProperties()
        try connection.apply(to: &props)
        guard !group.isEmpty else { throw KafkaConfigurationError(key: "group.id", message: "must not be empty") }
        props["group.id"] = group
        props["enable.auto.commit"] = "false"
        try connection.applyAdditional(to: &props, reserved: [
            "group.id": "the group is the argument", "enable.auto.commit": "this reader never commits",
        ])
        let reader = try RDKafkaClient(kind: .consumer, properties: props,
                                       callbacks: RDKafkaCallbacks(logger: logger, secrets: props.secretValues))
        return try await blocking.run { () throws(KafkaError) in
            defer { _ = reader.closeConsumer() }
            let list = RDKafkaTopicPartitionList(partitions)
            try KafkaError.check(rd_kafka_committed(reader.pointer, list.pointer, Int32(clamping: timeout.wholeMilliseconds)),
                                 operation: "committed offsets")
            if let (_, error) = list.errors(operation: "committed offsets").first { throw error }
            return list.offsets
        }
    }

    /// The number of partitions of `topic` (0 if the cluster does not know it).
    public func partitionCount(topic: String, timeout: Duration = .seconds(10)) async throws(KafkaError) -> Int {
        try await blocking.run { [client] () throws(KafkaError) in
            do throws(KafkaError) { return try client.partitionCount(topic: topic, timeout: timeout) } catch { throw client.explained(error) }
        }
    }

    /// The watermarks of a partition, asked of its leader.
    public func watermarks(for partition: KafkaTopicPartition, timeout: Duration = .seconds(10))
        async throws(KafkaError) -> KafkaWatermarks
    {
        try await blocking.run { [client] () throws(KafkaError) in
            do throws(KafkaError) { return try client.queryWatermarks(partition, timeout: timeout) } catch { throw client.explained(error) }
        }
    }

    /// Creates a topic (CreateTopics). An existing topic is not an error when `ifNotExists` is true.
    ///
    /// The embedded cluster does not implement admin requests; there this fails within `timeout` with a
    /// clear error — create topics with ``EmbeddedKafkaCluster/createTopic(_:partitions:replicationFactor:)``.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = -1,
                            configs: [String: String] = [:], ifNotExists: Bool = true,
                            timeout: Duration = .seconds(10)) async throws(KafkaError) {
        try await blocking.run { [client] () throws(KafkaError) in
            do throws(KafkaError) {
                try Self.createTopic(client: client, name: name, partitions: partitions, replicationFactor: replicationFactor,
                                     configs: configs, ifNotExists: ifNotExists, timeout: timeout)
            } catch { throw client.explained(error) }
        }
    }

    private static func createTopic(client: RDKafkaClient, name: String, partitions: Int, replicationFactor: Int,
                                    configs: [String: String], ifNotExists: Bool, timeout: Duration) throws(KafkaError) {
        let rk = client.pointer
        let ms = Int32(clamping: timeout.wholeMilliseconds)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errstr, errstr.count)
        else {
            throw KafkaError(code: .invalidArgument, operation: "create topic", message: String(cBuffer: errstr))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (key, value) in configs { _ = rd_kafka_NewTopic_set_config(newTopic, key, value) }
        let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, ms, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, ms, &errstr, errstr.count)
        let queue = rd_kafka_queue_new(rk)
        defer { rd_kafka_queue_destroy(queue) }
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(rk, &topics, 1, options, queue)
        // The request timeout bounds the answer; the extra second covers librdkafka's own bookkeeping. Short rounds,
        // so a handshake failure retrying will not fix ends the wait early.
        let deadline = ContinuousClock.now + .milliseconds(Int64(ms) + 1000)
        var answer: OpaquePointer?
        while answer == nil && ContinuousClock.now < deadline {
            answer = rd_kafka_queue_poll(queue, 250)
            if answer == nil, let problem = client.currentConnectProblem { throw problem }
        }
        guard let event = answer else {
            throw KafkaError(code: .timedOut, operation: "create topic",
                             message: "no answer to CreateTopics for \"\(name)\" within \(ms) ms", isRetriable: true)
        }
        defer { rd_kafka_event_destroy(event) }
        let err = rd_kafka_event_error(event)
        // A broker answered (librdkafka's own, local errors are negative): earlier handshake failures were fixed.
        if err.rawValue >= 0 { client.markContact() }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            throw KafkaError(rdCode: err, operation: "create topic",
                             message: "CreateTopics for \"\(name)\" failed: \(detail). The cluster may not support admin "
                                 + "requests (the embedded cluster does not: use EmbeddedKafkaCluster.createTopic)")
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
              let results = rd_kafka_CreateTopics_result_topics(result, &count), count > 0
        else { return }
        let topicErr = rd_kafka_topic_result_error(results[0])
        if topicErr == RD_KAFKA_RESP_ERR_NO_ERROR || (ifNotExists && topicErr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            return
        }
        let detail = rd_kafka_topic_result_error_string(results[0]).map { String(cString: $0) } ?? ""
        throw KafkaError(rdCode: topicErr, operation: "create topic", message: "\"\(name)\": \(detail)")
    }
}
