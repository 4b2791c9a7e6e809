internal import Crdkafka
import Foundation
public import Logging
import Synchronization

/// A Kafka producer whose sends return when the broker acknowledged the record (the delivery report).
///
/// The idempotent producer is on by default, so librdkafka's retries neither duplicate nor reorder records.
/// A dedicated thread serves delivery reports; ``flush(timeout:)`` waits off the cooperative pool.
public final class KafkaProducer: Sendable {
    let client: RDKafkaClient
    /// The configuration the producer was created with.
    public let configuration: KafkaProducerConfiguration
    private let blocking: BlockingCalls
    private let pollThread = PollThreadControl()

    /// Tells the delivery-report thread to stop, and tells the closer when it has.
    private final class PollThreadControl: Sendable {
        let stopping = Mutex(false)
        let stopped = DispatchSemaphore(value: 0)
        /// Records queued whose delivery report has not been served yet.
        let pending = Atomic<Int>.Box()
    }

    /// Creates the producer and its delivery-report thread.
    /// - Throws: ``KafkaConfigurationError`` naming the first invalid key.
    public init(configuration: KafkaProducerConfiguration, logger: Logger = Logger(label: "kafka.producer"))
        throws(KafkaConfigurationError)
    {
        let properties = try configuration.properties()
        self.configuration = configuration
        self.client = try RDKafkaClient(
            kind: .producer, properties: properties,
            callbacks: RDKafkaCallbacks(logger: logger, secrets: properties.secretValues, onError: { error in
                logger.warning("producer error", metadata: ["error": "\(error)"])
            }))
        self.blocking = BlockingCalls(label: "kafka.producer")
        let thread = Thread { [client, pollThread] in
            while !pollThread.stopping.withLock({ $0 }) {
                rd_kafka_poll(client.pointer, 100)
            }
            // Fail whatever is still queued so no sender waits forever, then serve those reports (bounded:
            // an in-flight request is only failed when its answer or timeout comes).
            rd_kafka_purge(client.pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            let deadline = ContinuousClock.now + .seconds(5)
            while pollThread.pending.counter.load(ordering: .relaxed) > 0 && ContinuousClock.now < deadline {
                rd_kafka_poll(client.pointer, 50)
            }
            pollThread.stopped.signal()
        }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    deinit {
        pollThread.stopping.withLock { $0 = true }
    }

    /// Produces one record and waits for its delivery report.
    /// - Throws: ``KafkaError`` when the record could not be queued or the broker did not take it
    ///   (after librdkafka's own retries, within `deliveryTimeout`).
    @discardableResult
    public func send(_ record: KafkaProducerRecord) async throws(KafkaError) -> KafkaDeliveryReport {
        try await sendAll([record])[0].get()
    }

    /// Produces several records at once and waits for all delivery reports, returned in the same order.
    public func sendAll(_ records: [KafkaProducerRecord]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !records.isEmpty else { return [] }
        let group = DeliveryGroup(count: records.count)
        for (index, record) in records.enumerated() {
            if let error = await enqueue(record, ticket: DeliveryTicket(group: group, index: index, pending: pollThread.pending)) {
                group.complete(index, with: .failure(error))
            }
        }
        return await group.wait()
    }

    /// Waits until every queued record was delivered or failed.
    public func flush(timeout: Duration = .seconds(30)) async throws(KafkaError) {
        try await blocking.run { [client] () throws(KafkaError) in
            try KafkaError.check(rd_kafka_flush(client.pointer, Int32(clamping: timeout.wholeMilliseconds)),
                                 operation: "flush")
        }
    }

    /// Flushes (up to `timeout`), then fails what is left and stops the delivery-report thread. Idempotent.
    public func close(timeout: Duration = .seconds(30)) async {
        try? await flush(timeout: timeout)
        let first = pollThread.stopping.withLock { stopping in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        _ = try? await blocking.run { [pollThread] in pollThread.stopped.wait() }
    }

    /// Queues a record; returns the error if librdkafka refused it. Waits while the local queue is full.
    private func enqueue(_ record: KafkaProducerRecord, ticket: DeliveryTicket) async -> KafkaError? {
        let deadline = ContinuousClock.now + configuration.deliveryTimeout
        while true {
            let opaque = Unmanaged.passRetained(ticket).toOpaque()
            pollThread.pending.counter.add(1, ordering: .relaxed)
            // Under the stop flag: a record queued after the poll thread stopped would never get its report.
            let err = pollThread.stopping.withLock { stopping in
                stopping ? RD_KAFKA_RESP_ERR__DESTROY : produce(record, opaque: opaque)
            }
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return nil }
            pollThread.pending.counter.subtract(1, ordering: .relaxed)
            Unmanaged<DeliveryTicket>.fromOpaque(opaque).release()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL, ContinuousClock.now < deadline else {
                let reason = err == RD_KAFKA_RESP_ERR__DESTROY ? "the producer is closed" : String(cString: rd_kafka_err2str(err))
                return KafkaError(rdCode: err, operation: "produce", message: "\(reason) (topic \(record.topic))")
            }
            // The poll thread frees room as delivery reports arrive.
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    private func produce(_ record: KafkaProducerRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer?
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                if let value = header.value {
                    value.withUnsafeBytes { bytes in
                        _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
                }
            }
        }
        let err = Self.withOptionalBytes(record.key) { key in
            Self.withOptionalBytes(record.value) { value in
                kw_produce(client.pointer, record.topic, record.partition ?? RD_KAFKA_PARTITION_UA,
                           key.baseAddress, key.count, value.baseAddress, value.count,
                           headers, record.timestampMilliseconds ?? 0, opaque)
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }

    /// Gives `body` the bytes: a nil base address for a null key/value, a real (zero-length) one for empty bytes.
    private static func withOptionalBytes<T>(_ bytes: KafkaBytes?, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        guard let bytes else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard !bytes.isEmpty else {
            return withUnsafeBytes(of: UInt8(0)) { body(UnsafeRawBufferPointer(start: $0.baseAddress, count: 0)) }
        }
        return bytes.withUnsafeBytes { body($0) }
    }
}
