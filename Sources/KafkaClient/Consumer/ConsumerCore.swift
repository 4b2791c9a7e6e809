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
        /// The assignment generation each assigned partition was assigned at.
        var assignedAt: [KafkaTopicPartition: Int] = [:]
        /// Paused by the application; stays paused across back-pressure. Forgotten when a partition is revoked.
        var userPaused: Set<KafkaTopicPartition> = []
        /// Fetching is paused because the hand-off buffer reached its high watermark.
        var backpressure = false
        /// What librdkafka was told (poll thread only): paused partitions.
        var appliedPaused: Set<KafkaTopicPartition> = []
        /// Partitions whose pause flag in librdkafka is unknown: set explicitly at the next reconcile. Newly assigned
        /// ones (librdkafka keeps the flag of an earlier assignment), and after every rebalance callback the kept
        /// ones this assignment paused (see ``ConsumerCore/handleRebalance(rk:err:list:)``).
        var pauseUnknown: Set<KafkaTopicPartition> = []
        /// Partitions paused at least once in their current assignment: librdkafka may still hold them paused after
        /// a resume it dropped. Never-paused ones need no second word.
        var pausedInAssignment: Set<KafkaTopicPartition> = []
        /// Something that decides the pause flags changed since the last reconcile.
        var pausesChanged = false
        /// Seeks for the poll thread to run (``ConsumerCore/performSeeks(rk:)``).
        var pendingSeeks: [PendingSeek] = []
        /// Offsets to commit from the poll thread (the newest per partition), with the assignment generation they
        /// belong to, if known.
        var pendingCommits: [KafkaTopicPartition: (offset: KafkaTopicPartitionOffset, generation: Int?)] = [:]
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
    /// Bumped by every assignment change (poll thread); batches carry the value they were polled at.
    let generation = Atomic<Int>(0)
    /// The consumer queue, to wake the poll thread (`rd_kafka_queue_yield`); set while polling.
    let pollQueue = Mutex<RDKafkaQueue?>(nil)

    init(configuration: KafkaConsumerConfiguration, hooks: KafkaRebalanceHooks, logger: Logger) {
        self.configuration = configuration
        self.hooks = hooks
        self.logger = logger
        (events, eventSink) = AsyncStream.makeStream(of: KafkaConsumerEvent.self, bufferingPolicy: .bufferingNewest(1024))
        handoff = RecordHandoff(
            highWatermark: configuration.handoff.highWatermark, lowWatermark: configuration.handoff.lowWatermark,
            highWatermarkBytes: configuration.handoff.highWatermarkBytes, lowWatermarkBytes: configuration.handoff.lowWatermarkBytes)
    }

    func emit(_ event: KafkaConsumerEvent) {
        eventSink.yield(event)
    }

    func finishEvents() {
        eventSink.finish()
    }

    // MARK: Pause and resume

    /// Pauses fetching of everything assigned (poll thread, when the hand-off buffer is full).
    ///
    /// The reader may have taken the buffer down to the low watermark since the poll thread's wait for it timed out:
    /// it then found fetching not paused and will not resume it (it may be waiting for records). So the buffer is
    /// checked again after the flag is set, and back-pressure left at once if it is low. The reader takes records
    /// before it reads the flag, this thread sets the flag before it reads the buffer: one of them sees the other.
    func enterBackpressure() {
        let entered = state.withLock { state -> Bool in
            guard !state.backpressure else { return false }
            state.backpressure = true
            state.pausesChanged = true
            return true
        }
        guard entered else { return }
        if handoff.isLow {
            leaveBackpressure()
            return
        }
        logger.debug("hand-off buffer full: fetching paused", metadata: ["buffered": "\(handoff.count)"])
        reconcilePauses()
    }

    /// Resumes fetching of everything not paused by the application (reader, below the low watermark). The poll
    /// thread applies it.
    func leaveBackpressure() {
        let left = state.withLock { state -> Bool in
            guard state.backpressure else { return false }
            state.backpressure = false
            state.pausesChanged = true
            return true
        }
        guard left else { return }
        logger.debug("hand-off buffer drained: fetching resumed")
        wakePollThread()
    }

    func pause(_ partitions: [KafkaTopicPartition]) {
        let changed = state.withLock { state -> Bool in
            guard !state.userPaused.isSuperset(of: partitions) else { return false }
            state.userPaused.formUnion(partitions)
            state.pausesChanged = true
            return true
        }
        if changed { wakePollThread() }
    }

    func resume(_ partitions: [KafkaTopicPartition]) {
        let changed = state.withLock { state -> Bool in
            guard !state.userPaused.isDisjoint(with: partitions) else { return false }
            state.userPaused.subtract(partitions)
            state.pausesChanged = true
            return true
        }
        if changed { wakePollThread() }
    }

    /// Makes librdkafka's pause flags match what is wanted: with back-pressure every assigned partition is paused,
    /// otherwise those the application paused. Poll thread only, and outside every lock:
    /// `rd_kafka_pause/resume_partitions` wait for the broker thread in librdkafka 2.0.
    func reconcilePauses() {
        let (pause, resume, rk) = state.withLock { state -> ([KafkaTopicPartition], [KafkaTopicPartition], OpaquePointer?) in
            guard state.pausesChanged else { return ([], [], nil) }
            state.pausesChanged = false
            let wanted = state.backpressure ? state.assignment : state.userPaused.intersection(state.assignment)
            let pause = wanted.subtracting(state.appliedPaused.subtracting(state.pauseUnknown))
            let resume = state.assignment.subtracting(wanted).intersection(state.appliedPaused.union(state.pauseUnknown))
            state.appliedPaused = wanted
            state.pausedInAssignment.formUnion(pause)
            state.pauseUnknown.removeAll()
            return (pause.sorted(), resume.sorted(), state.handle?.pointer)
        }
        guard let rk else { return }
        if !pause.isEmpty { _ = RDKafkaTopicPartitionList(pause).withPointer { rd_kafka_pause_partitions(rk, $0) } }
        if !resume.isEmpty { _ = RDKafkaTopicPartitionList(resume).withPointer { rd_kafka_resume_partitions(rk, $0) } }
    }

    /// Makes the poll thread return from its wait, so a pause change is applied at once.
    func wakePollThread() {
        pollQueue.withLock { queue in
            if let queue = queue?.pointer { rd_kafka_queue_yield(queue) }
        }
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
