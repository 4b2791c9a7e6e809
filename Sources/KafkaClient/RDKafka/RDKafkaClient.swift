internal import Crdkafka
import Foundation
import Logging
import Synchronization

/// A borrowed `rd_kafka_t` pointer. `@unchecked Sendable`: librdkafka handles are thread-safe.
struct RDKafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A `rd_kafka_queue_t` reference, destroyed by whoever took it. `@unchecked Sendable`: queues are thread-safe.
struct RDKafkaQueue: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Owns one `rd_kafka_t` and the callback object it points to.
///
/// `@unchecked Sendable`: librdkafka handles are thread-safe; the pointer never changes and is destroyed once, in `deinit`.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind { case consumer, producer }

    let pointer: OpaquePointer
    let kind: Kind
    private let callbacks: Unmanaged<RDKafkaCallbacks>
    private let consumerClosed = Mutex(false)

    init(kind: Kind, properties: KafkaProperties, callbacks: RDKafkaCallbacks) throws(KafkaConfigurationError) {
        let conf = try Self.makeConf(properties)
        let retained = Unmanaged.passRetained(callbacks)
        callbacks.install(on: conf)
        if kind == .producer {
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        var errstr = [CChar](repeating: 0, count: 512)
        let type = kind == .consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            retained.release()
            let text = scrub(String(cBuffer: errstr), secrets: properties.secretValues)
            let key = properties.values.keys.sorted().first { text.contains($0) } ?? "configuration"
            throw KafkaConfigurationError(key: key, message: text)
        }
        self.pointer = handle
        self.kind = kind
        self.callbacks = retained
        if kind == .consumer {
            // Route rebalances, commit results and errors to the consumer queue served by `consumer_poll`.
            rd_kafka_poll_set_consumer(handle)
        }
    }

    deinit {
        // `rd_kafka_destroy` joins librdkafka's threads (and an unclosed consumer's close waits for the group):
        // the last reference may be dropped on a cooperative thread, so both run on a thread of their own.
        let handle = Teardown(pointer: pointer, callbacks: callbacks,
                              close: kind == .consumer && !consumerClosed.withLock({ $0 }))
        let thread = Thread {
            if handle.close { rd_kafka_consumer_close(handle.pointer) }
            rd_kafka_destroy(handle.pointer)
            handle.callbacks.release()
        }
        thread.name = "kafka-destroy"
        thread.start()
    }

    /// What the teardown thread needs. `@unchecked Sendable`: handed over once, used by that thread alone.
    private struct Teardown: @unchecked Sendable {
        let pointer: OpaquePointer
        let callbacks: Unmanaged<RDKafkaCallbacks>
        let close: Bool
    }

    /// `rd_kafka_consumer_close`, at most once. Blocks: call it off the cooperative pool.
    func closeConsumer() -> rd_kafka_resp_err_t {
        let first = consumerClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        return first ? rd_kafka_consumer_close(pointer) : RD_KAFKA_RESP_ERR_NO_ERROR
    }

    var logger: Logger { callbacks.takeUnretainedValue().logger }
    var secrets: [String] { callbacks.takeUnretainedValue().secrets }

    /// Asks the cluster for metadata; fails with a clear error when no broker answers within `timeout`, and at
    /// once when a broker's handshake fails in a way retrying will not fix (see ``ConnectDiagnosis``).
    func checkReachable(timeout: Duration, bootstrapServers: [String]) throws(KafkaError) {
        let (err, metadata) = try metadata(topic: nil, timeout: timeout)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
        throw KafkaError(
            code: .init(rawValue: err.rawValue), operation: "connect",
            message: "no broker of \(bootstrapServers.joined(separator: ",")) answered within "
                + "\(timeout.wholeMilliseconds) ms (\(String(cString: rd_kafka_err2str(err)))); "
                + "check bootstrap.servers, the network and the security settings",
            isRetriable: true)
    }

    /// `rd_kafka_metadata` in rounds that start short and double (250 ms, 500 ms, 1 s…), so a handshake failure
    /// seen meanwhile ends the wait early, while a cluster slow to answer still gets rounds long enough for its
    /// answer (each round sends a new request and drops a late answer). Throws such a failure; otherwise returns
    /// the last result (the caller destroys the metadata).
    func metadata(topic: OpaquePointer?, timeout: Duration) throws(KafkaError)
        -> (rd_kafka_resp_err_t, UnsafePointer<rd_kafka_metadata>?)
    {
        let deadline = ContinuousClock.now + timeout
        var round: Int64 = 250
        var err = RD_KAFKA_RESP_ERR__TIMED_OUT
        repeat {
            let left = max(1, min(round, (deadline - ContinuousClock.now).wholeMilliseconds))
            var metadata: UnsafePointer<rd_kafka_metadata>?
            err = rd_kafka_metadata(pointer, 0, topic, &metadata, Int32(clamping: left))
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                markContact()
                return (err, metadata)
            }
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            if let problem = currentConnectProblem { throw problem }
            round = min(round * 2, 8_000)
        } while ContinuousClock.now < deadline
        return (err, nil)
    }

    /// The latest handshake failure retrying will not fix, if seen since the client last had an answer from the
    /// cluster (see ``ConnectDiagnosis``): one the cluster answered after is taken as fixed.
    var currentConnectProblem: KafkaError? {
        let callbacks = callbacks.takeUnretainedValue()
        let contact = callbacks.lastContact.withLock { $0 }
        return callbacks.connectProblem.withLock { problem in problem.flatMap { $0.at >= contact ? $0.error : nil } }
    }

    /// The cluster answered: handshake failures seen before no longer count.
    func markContact() {
        callbacks.takeUnretainedValue().lastContact.withLock { $0 = .now }
    }

    /// The latest handshake failure retrying will not fix, if any.
    var connectProblem: KafkaError? { callbacks.takeUnretainedValue().connectProblem.withLock { $0?.error } }

    /// `error`, with the handshake failure that kept the cluster unreachable appended, if one was seen.
    func explained(_ error: KafkaError) -> KafkaError {
        guard let problem = connectProblem, problem != error else { return error }
        var error = error
        error.message += "; the cluster could not be reached: \(problem.message)"
        return error
    }

    /// Cached watermarks (updated by fetches); no request is sent.
    func cachedWatermarks(_ partition: KafkaTopicPartition) throws(KafkaError) -> KafkaWatermarks {
        var low: Int64 = 0
        var high: Int64 = 0
        try KafkaError.check(rd_kafka_get_watermark_offsets(pointer, partition.topic, partition.partition, &low, &high),
                             operation: "watermarks")
        return KafkaWatermarks(low: low, high: high)
    }

    /// Watermarks asked of the partition leader. Blocks up to `timeout`.
    func queryWatermarks(_ partition: KafkaTopicPartition, timeout: Duration) throws(KafkaError) -> KafkaWatermarks {
        var low: Int64 = 0
        var high: Int64 = 0
        try KafkaError.check(
            rd_kafka_query_watermark_offsets(pointer, partition.topic, partition.partition, &low, &high,
                                             Int32(clamping: timeout.wholeMilliseconds)),
            operation: "query watermarks")
        return KafkaWatermarks(low: low, high: high)
    }

    /// The partitions of `topic` according to cluster metadata. Blocks up to `timeout`.
    func partitionCount(topic: String, timeout: Duration) throws(KafkaError) -> Int {
        guard let handle = rd_kafka_topic_new(pointer, topic, nil) else {
            throw KafkaError(code: .invalidArgument, operation: "metadata", message: "bad topic name \"\(topic)\"")
        }
        defer { rd_kafka_topic_destroy(handle) }
        let (err, metadata) = try self.metadata(topic: handle, timeout: timeout)
        try KafkaError.check(err, operation: "metadata")
        defer { rd_kafka_metadata_destroy(metadata) }
        guard let metadata, metadata.pointee.topic_cnt > 0 else { return 0 }
        let entry = metadata.pointee.topics[0]
        try KafkaError.check(entry.err, operation: "metadata")
        return Int(entry.partition_cnt)
    }

    private static func makeConf(_ properties: KafkaProperties) throws(KafkaConfigurationError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.values.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let text = String(cBuffer: errstr)
                throw KafkaConfigurationError(
                    key: key, message: KafkaProperties.isSecret(key) ? scrub(text, secrets: [value]) : text)
            }
        }
        return conf
    }
}
