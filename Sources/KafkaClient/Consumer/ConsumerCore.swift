internal import Crdkafka
import Dispatch
import Logging
import Synchronization

/// The consumer's shared state and everything librdkafka calls back into.
///
/// It does not own the `rd_kafka_t`: callbacks get it from librdkafka, and the public methods that act
/// on it are only reachable through a ``KafkaConsumer`` (which owns the handle) — so the handle stored
/// in `state.handle` is alive whenever it is used.
final class ConsumerCore: Sendable {
    struct State {
        enum Lifecycle { case idle, polling, stopping, closed }
        var lifecycle = Lifecycle.idle
        /// The `rd_kafka_t`, set once right after it is created.
        var handle: RDKafkaHandle?
        var assignment: Set<KafkaTopicPartition> = []
        /// Paused by the application; stays paused across back-pressure.
        var userPaused: Set<KafkaTopicPartition> = []
        /// Fetching is paused because the hand-off buffer reached its high watermark.
        var backpressure = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var lastError: KafkaError?
    }

    let configuration: KafkaConsumerConfiguration
    let hooks: KafkaRebalanceHooks
    let logger: Logger
    let state = Mutex(State())
    let events: AsyncStream<KafkaConsumerEvent>
    private let eventSink: AsyncStream<KafkaConsumerEvent>.Continuation
    let handoff: RecordHandoff<RDKafkaMessageBatch>
    /// Fetched messages kept for headers not parsed yet.
    let headerRegistry = RDKafkaHeaderRegistry()

    init(configuration: KafkaConsumerConfiguration, hooks: KafkaRebalanceHooks, logger: Logger) {
        self.configuration = configuration
        self.hooks = hooks
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: KafkaConsumerEvent.self, bufferingPolicy: .bufferingNewest(1024))
        handoff = RecordHandoff(
            highWatermark: configuration.handoff.highWatermark, lowWatermark: configuration.handoff.lowWatermark)
    }

    func emit(_ event: KafkaConsumerEvent) {
        eventSink.yield(event)
    }

    func finishEvents() {
        eventSink.finish()
    }

    // MARK: Pause and resume

    /// Pauses fetching of everything assigned (poll thread, when the hand-off buffer is full).
    func enterBackpressure() {
        state.withLock { state in
            guard !state.backpressure, let rk = state.handle?.pointer else { return }
            state.backpressure = true
            Self.setPaused(true, state.assignment.subtracting(state.userPaused), rk: rk)
        }
        logger.debug("hand-off buffer full: fetching paused", metadata: ["buffered": "\(handoff.count)"])
    }

    /// Resumes fetching of everything not paused by the application (reader, below the low watermark).
    func leaveBackpressure() {
        let resumed = state.withLock { state -> Bool in
            guard state.backpressure, let rk = state.handle?.pointer else { return false }
            state.backpressure = false
            Self.setPaused(false, state.assignment.subtracting(state.userPaused), rk: rk)
            return true
        }
        if resumed { logger.debug("hand-off buffer drained: fetching resumed") }
    }

    func pause(_ partitions: [KafkaTopicPartition]) {
        state.withLock { state in
            let new = Set(partitions).subtracting(state.userPaused)
            state.userPaused.formUnion(new)
            if !state.backpressure, let rk = state.handle?.pointer { Self.setPaused(true, new, rk: rk) }
        }
    }

    func resume(_ partitions: [KafkaTopicPartition]) {
        state.withLock { state in
            let paused = Set(partitions).intersection(state.userPaused)
            state.userPaused.subtract(paused)
            if !state.backpressure, let rk = state.handle?.pointer { Self.setPaused(false, paused, rk: rk) }
        }
    }

    /// `rd_kafka_pause_partitions` / `resume_partitions`: asynchronous in librdkafka, cheap enough to call
    /// under the state lock, which keeps pause and resume in order.
    private static func setPaused(_ paused: Bool, _ partitions: Set<KafkaTopicPartition>, rk: OpaquePointer) {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(Array(partitions))
        _ = paused ? rd_kafka_pause_partitions(rk, list.pointer) : rd_kafka_resume_partitions(rk, list.pointer)
    }

    // MARK: Callbacks from librdkafka

    func handleError(_ error: KafkaError) {
        state.withLock { $0.lastError = error }
        if error.isFatal {
            logger.critical("fatal consumer error", metadata: ["error": "\(error)"])
        } else {
            logger.warning("consumer error", metadata: ["error": "\(error)"])
        }
        emit(KafkaConsumerEvent(kind: .error, error: error))
    }

    func handleCommit(error: KafkaError?, offsets: [KafkaTopicPartitionOffset]) {
        if let error {
            logger.warning("offset commit failed", metadata: ["error": "\(error)", "offsets": "\(offsets)"])
        } else {
            logger.trace("offsets committed", metadata: ["offsets": "\(offsets)"])
        }
        emit(KafkaConsumerEvent(kind: .committed, offsets: offsets, error: error))
    }
}
