internal import Crdkafka
import Foundation
public import Logging

/// A Kafka consumer in a consumer group.
///
/// A dedicated poll thread fetches records with `rd_kafka_consumer_poll` and hands them over in batches
/// through a bounded buffer (``batches``, or ``records`` one at a time); when the buffer is full, fetching
/// pauses while the thread keeps serving the group. Offsets are committed only after they are stored with
/// ``storeOffsets(_:)``, automatically on an interval and by ``commit()``. Blocking librdkafka calls never
/// run on Swift's cooperative thread pool.
///
/// ```swift
/// let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: ["localhost:9092"], groupID: "orders"))
/// try await consumer.subscribe(topics: ["orders"])
/// for try await batch in consumer.batches {
///     for record in batch { try await handle(record) }
///     consumer.storeOffsets(batch.nextOffsets)
/// }
/// ```
public final class KafkaConsumer: Sendable {
    let core: ConsumerCore
    let client: RDKafkaClient
    let blocking: BlockingCalls

    /// Creates the consumer; nothing is fetched until ``subscribe(topics:)``.
    /// - Throws: ``KafkaConfigurationError`` naming the first invalid key.
    public init(configuration: KafkaConsumerConfiguration, rebalanceHooks: KafkaRebalanceHooks = .none,
                logger: Logger = Logger(label: "kafka.consumer")) throws(KafkaConfigurationError) {
        var logger = logger
        logger[metadataKey: "group"] = "\(configuration.groupID)"
        logger[metadataKey: "client"] = "\(configuration.connection.clientID)"
        let properties = try configuration.properties(libraryVersion: KafkaLibrary.versionNumber)
        let core = ConsumerCore(configuration: configuration, hooks: rebalanceHooks, logger: logger)
        let callbacks = RDKafkaCallbacks(
            logger: logger, secrets: properties.secretValues,
            onRebalance: { rk, err, list in core.handleRebalance(rk: rk, err: err, list: list) },
            onError: { error in core.handleError(error) },
            onOffsetCommit: { error, offsets in core.handleCommit(error: error, offsets: offsets) })
        self.client = try RDKafkaClient(kind: .consumer, properties: properties, callbacks: callbacks)
        self.core = core
        self.blocking = BlockingCalls(label: "kafka.consumer.\(configuration.groupID)")
        core.state.withLock { [handle = RDKafkaHandle(pointer: client.pointer)] in $0.handle = handle }
    }

    deinit {
        // The poll thread holds the client and closes it when it sees the stop request.
        core.state.withLock { state in
            if state.lifecycle == .polling { state.lifecycle = .stopping }
        }
    }

    /// The configuration the consumer was created with.
    public var configuration: KafkaConsumerConfiguration { core.configuration }

    /// Subscribes to `topics` and starts the poll thread. Calling it again replaces the subscription.
    ///
    /// If no broker answers within `connectTimeout`, ``batches`` ends with a ``KafkaError`` saying so.
    /// `rd_kafka_subscribe` waits for librdkafka's main thread: it runs off Swift's cooperative pool.
    public func subscribe(topics: [String]) async throws(KafkaError) {
        guard !topics.isEmpty else {
            throw KafkaError(code: .invalidArgument, operation: "subscribe", message: "no topics given")
        }
        try await blocking.run { [client] () throws(KafkaError) in
            let list = RDKafkaTopicPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
            try KafkaError.check(list.withPointer { rd_kafka_subscribe(client.pointer, $0) }, operation: "subscribe")
        }
        let start = core.state.withLock { state -> Bool in
            guard state.lifecycle == .idle else { return false }
            state.lifecycle = .polling
            return true
        }
        guard start else { return }
        core.logger.info("subscribed", metadata: ["topics": "\(topics)"])
        let thread = Thread { [core, client] in core.pollLoop(client: client) }
        thread.name = "kafka-poll-\(configuration.groupID)"
        thread.start()
    }

    /// Record batches in fetch order (per partition, offsets ascending). Meant for one reader.
    public var batches: KafkaRecordBatches { KafkaRecordBatches(consumer: self) }

    /// Records one at a time (a convenience over ``batches``).
    public var records: KafkaRecords { KafkaRecords(batches: batches) }

    /// Assignments, revocations, commit results and errors, for observation. Meant for one reader;
    /// the 1,024 newest are kept when nobody reads.
    public var events: AsyncStream<KafkaConsumerEvent> { core.events }

    /// The partitions currently assigned to this member.
    public var assignment: [KafkaTopicPartition] { core.state.withLock { $0.assignment.sorted() } }

    /// Stops fetching `partitions` until ``resume(_:)``. Pausing lasts for the current assignment only.
    public func pause(_ partitions: [KafkaTopicPartition]) { core.pause(partitions) }

    /// Resumes fetching `partitions` from the next record after the last one delivered.
    public func resume(_ partitions: [KafkaTopicPartition]) { core.resume(partitions) }

    /// Stops fetching, runs the revoke hook, commits stored offsets, leaves the group and ends ``batches``.
    /// Idempotent; concurrent callers all return when the consumer is closed.
    public func close() async {
        enum Action { case closeHere, wait, done }
        let action = core.state.withLock { state -> Action in
            switch state.lifecycle {
            case .idle:
                state.lifecycle = .stopping
                return .closeHere
            case .polling:
                state.lifecycle = .stopping
                return .wait
            case .stopping: return .wait
            case .closed: return .done
            }
        }
        switch action {
        case .done:
            return
        case .closeHere:
            _ = try? await blocking.run { [core, client] in core.close(client: client, failure: nil) }
        case .wait:
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let closed = core.state.withLock { state -> Bool in
                    if state.lifecycle == .closed { return true }
                    state.closeWaiters.append(continuation)
                    return false
                }
                if closed { continuation.resume() }
            }
        }
    }
}
