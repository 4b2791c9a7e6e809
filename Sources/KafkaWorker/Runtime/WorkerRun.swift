import Dispatch
import KafkaClient
import Logging
import Synchronization

/// One run of a worker: the consumer, the scheduler state, the lanes, and the tasks around them.
final class WorkerRun: Sendable {
    let configuration: WorkerConfiguration
    let consumer: KafkaConsumer
    let runner: RecordRunner
    let scheduler: Mutex<WorkerScheduler>
    let events: WorkerEventSink
    let metrics: WorkerMetrics
    let logger: Logger
    let lanes: LaneBoard
    /// Graceful stop requested (signal, `stop()`, or a crash).
    let stopRequested = WorkerSignal(latching: true)
    /// Stop without waiting for in-flight records.
    let forced = WorkerSignal(latching: true)
    /// Bumped on every revoke and on stop: lanes re-check whether their partition still counts.
    let revocations = Atomic<Int>(0)
    let laneStarts: AsyncStream<LaneKey>
    private let laneStartSink: AsyncStream<LaneKey>.Continuation
    let failure = Mutex<(any Error)?>(nil)
    /// Fired when the scheduler lets the parked intake go on (its `wakeIntake` action).
    let room = WorkerSignal(latching: false)
    /// Epochs of partitions whose revoke began and has not completed (poll thread).
    let revoking = Mutex<[KafkaTopicPartition: Int]>([:])
    /// What the broker last confirmed per partition (offset and metadata): the commit loop sends what differs.
    let confirmedCommits = Mutex<[KafkaTopicPartition: KafkaTopicPartitionOffset]>([:])

    init(configuration: WorkerConfiguration, consumer: KafkaConsumer, runner: RecordRunner, events: WorkerEventSink,
         metrics: WorkerMetrics, logger: Logger) {
        self.configuration = configuration
        self.consumer = consumer
        self.runner = runner
        self.events = events
        self.metrics = metrics
        self.logger = logger
        self.lanes = LaneBoard(capacity: configuration.maxConcurrency)
        self.scheduler = Mutex(WorkerScheduler(limits: .init(
            ordering: configuration.ordering, maxConcurrency: configuration.maxConcurrency,
            chunkSize: configuration.maxBatchSize, maxBuffered: configuration.maxBufferedRecords,
            maxBufferedPerPartition: configuration.maxBufferedRecordsPerPartition,
            maxBufferedBytes: configuration.maxBufferedBytes, commitMetadataMaxBytes: configuration.commitMetadataMaxBytes,
            keyLanes: Self.keyLanes(runner.handler, configuration))))
        (laneStarts, laneStartSink) = AsyncStream.makeStream(of: LaneKey.self)
    }

    /// A lane per key for per-record handlers; `maxConcurrency` hash slots per partition for batch handlers, whose
    /// batch is one lane's chunk (a lane per key would hand them one key's records at a time).
    static func keyLanes(_ handler: RecordHandler, _ configuration: WorkerConfiguration) -> Int {
        if case .perBatch = handler { return configuration.maxConcurrency }
        return .max
    }

    /// Applies the scheduler's decisions. Pauses and resumes only record what is wanted: the poll thread applies them
    /// outside every lock. The offsets it would store are not handed to librdkafka: the worker commits itself, from
    /// the scheduler's committable offsets (its commit loop, revokes, the shutdown), with their metadata.
    func schedule<T>(_ body: (inout WorkerScheduler) -> (T, WorkerScheduler.Actions)) -> T {
        let (result, lanes) = scheduler.withLock { state -> (T, ([LaneKey], Bool)) in
            let (result, actions) = body(&state)
            if !actions.pause.isEmpty { consumer.pause(actions.pause) }
            if !actions.resume.isEmpty { consumer.resume(actions.resume) }
            return (result, (actions.startLanes, actions.wakeIntake))
        }
        for lane in lanes.0 { laneStartSink.yield(lane) }
        if lanes.1 { room.fire() }
        return result
    }

    func finishLaneStarts() { laneStartSink.finish() }

    // MARK: Intake

    /// Reads fetched batches into the scheduler until the consumer closes.
    func intake() async {
        var batches = consumer.batches.makeAsyncIterator()
        do {
            while !stopRequested.hasFired, let (batch, generation) = try await batches.nextTagged() {
                let parked = schedule { state in
                    let actions = state.receive(batch, generation: generation)
                    return (state.intakeParked, actions)
                }
                if parked { await waitForRoom() }
            }
        } catch {
            crash(error)
        }
    }

    /// Holds intake (so the consumer's own buffer fills and, if that lasts, fetching pauses) while the scheduler
    /// keeps it parked: it lets go (a `wakeIntake` action, after the change that made room) when the records held
    /// are down to half the limit, or at a stop.
    private func waitForRoom() async {
        metrics.buffered.record(scheduler.withLock { $0.buffered })
        while true {
            // Read before the check: a wake-up between the two makes the wait return at once.
            let generation = room.generation
            guard !stopRequested.hasFired, scheduler.withLock({ $0.intakeParked }) else { return }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [room] in await room.wait(since: generation) }
                group.addTask { [stopRequested] in await stopRequested.wait() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    func crash(_ error: any Error) {
        let first = failure.withLock { failure -> Bool in
            guard failure == nil else { return false }
            failure = error
            return true
        }
        guard first else { return }
        events.emit(WorkerEvent(kind: .crashed, error: String(describing: error), message: "worker stopping after an error"))
        stopRequested.fire()
    }

    // MARK: Lanes

    /// Runs lanes until none has work: this lane, then any lane it hands its slot to.
    func runLane(_ first: LaneKey) async {
        let slot = lanes.acquire()
        defer { lanes.release(slot) }
        var next: LaneKey? = first
        while let lane = next {
            next = nil
            slot.partition.withLock { $0 = lane.partition }
            chunks: while true {
                switch schedule({ state in (state.take(for: lane), .init()) }) {
                case .idle(let following):
                    next = following
                    break chunks
                case .chunk(let chunk):
                    let (unfinished, notRun, gaveUp) = await runChunk(chunk, lane: lane, slot: slot)
                    if let following = scheduler.withLock({
                        $0.chunkDone(lane: lane, epoch: chunk.epoch, unfinished: unfinished, returning: notRun, gaveUp: gaveUp)
                    }) {
                        next = following
                        break chunks
                    }
                    // A chunk cut short (stop, revoke, a record given up) may have run without suspending once (a
                    // handler that throws at once): let the other tasks of the pool run before the next one.
                    if unfinished > 0 { await Task.yield() }
                }
            }
        }
    }

    /// Runs a chunk; returns how many of its records were not finished (stop or revoke), those of them the lane
    /// still holds and never started (not handed to other lanes), in order, and whether a record was tried and
    /// abandoned (it failed while its partition drains).
    private func runChunk(_ chunk: WorkerScheduler.Chunk, lane: LaneKey,
                          slot: LaneBoard.Slot) async -> (Int, ArraySlice<KafkaRecord>, Bool) {
        let partition = lane.partition
        let epoch = chunk.epoch
        // Whether a failed record may be tried again (a retry, a dead letter): not once its partition drains (stop,
        // revoke) — a drain runs each record's attempt in progress or first attempt, never a backoff that would hold
        // the stop or the rebalance for its whole bound; the record stays unfinished and comes back.
        let stillCurrent: @Sendable () -> Bool = { [self] in
            self.scheduler.withLock { $0.isCurrent(partition, epoch: epoch) }
        }
        metrics.inFlight.record(chunk.records.count)
        if case .perBatch = runner.handler {
            let start = slot.begin(chunk.records.first!.offset)
            let (finished, deadLettered) = await runner.runBatch(Array(chunk.records), stillCurrent: stillCurrent)
            slot.end()
            metrics.processingTime.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
            flush(finished, handled: finished.count - deadLettered, partition: partition, epoch: epoch)
            let gaveUp = finished.count < chunk.records.count
            return (chunk.records.count - finished.count, gaveUp ? [] : chunk.records.dropFirst(finished.count), gaveUp)
        }
        // No generation yet: the first record always asks whether the chunk is still current (a stop or revoke
        // between `take` and here bumped the counter before this lane could read it). Once its partition drains,
        // every record asks: only those below the highest finished one may start.
        var generation = Int.min
        var checkEach = false
        flush(slot.takePending(next: (partition, epoch)))
        var lastFlush = DispatchTime.now().uptimeNanoseconds
        // One clock reading per record: a record ends when the next one starts.
        var now = lastFlush
        for (index, record) in chunk.records.enumerated() {
            let current = revocations.load(ordering: .relaxed)
            if current != generation || checkEach {
                generation = current
                let (may, draining) = scheduler.withLock {
                    ($0.mayRun(partition, epoch: epoch, offset: record.offset), !$0.isCurrent(partition, epoch: epoch))
                }
                guard may else {
                    flush(slot.takePending())
                    return (chunk.records.count - index, chunk.records.dropFirst(index), false)
                }
                checkEach = draining
            }
            let start = slot.begin(record.offset, now: now)
            var handedOff = 0
            var retried = false
            let outcome = await runner.run(record, stillCurrent: stillCurrent, onRetry: {
                // `.unordered`: the rest of the chunk goes to other lanes instead of waiting for the retry.
                retried = true
                handedOff = schedule { state in
                    state.laneBlocked(lane, epoch: epoch, remaining: Array(chunk.records.dropFirst(index + 1)))
                }
            })
            slot.end()
            if retried { scheduler.withLock { $0.laneUnblocked(lane) } }
            let end = DispatchTime.now().uptimeNanoseconds
            now = end
            metrics.processingTime.recordNanoseconds(Int64(end - start))
            guard outcome != .abandoned else {
                flush(slot.takePending())
                return (chunk.records.count - index - handedOff, [], true)
            }
            let noted = slot.finished(record.offset, handled: outcome == .handled || outcome == .duplicate)
            if handedOff > 0 {
                flush(slot.takePending())
                return (0, [], false)
            }
            // Store progress every 256 records or 100 ms, so slow handlers still commit as they go.
            if noted >= 256 || end - lastFlush > 100_000_000 {
                flush(slot.takePending())
                lastFlush = end
            }
        }
        flush(slot.takePending())
        return (0, [], false)
    }

    /// Hands every lane's finished-but-unreported records to the scheduler (before a stop or revoke commits).
    func flushAllLanes() {
        for slot in lanes.all { flush(slot.takePending()) }
    }

    private func flush(_ pending: LaneBoard.Pending) {
        guard let partition = pending.partition else { return }
        flush(pending.offsets, handled: pending.handled, partition: partition, epoch: pending.epoch)
    }

    private func flush(_ offsets: [Int64], handled: Int, partition: KafkaTopicPartition, epoch: Int) {
        guard !offsets.isEmpty else { return }
        metrics.processed(handled)
        schedule { state in ((), state.finished(offsets, of: partition, epoch: epoch)) }
    }

    // MARK: Watchdog and summary

    /// Every second (or a quarter of the watchdog deadline, if shorter): hands finished records of lanes stuck
    /// in a slow record to the scheduler, so their offsets are stored; and with the `.report` action, reports
    /// records running past the deadline (`.cancelAndRetry` times each record itself).
    func maintenanceLoop() async {
        let deadline = configuration.watchdog.deadline
        let reports = configuration.watchdog.action == .report
        let period = min(max(deadline / 4, .milliseconds(10)), .seconds(1))
        while await sleepUnlessStopped(period) {
            flushAllLanes()
            guard reports else { continue }
            for record in lanes.overdue(deadline: deadline) {
                metrics.watchdogFired()
                events.emit(WorkerEvent(kind: .watchdog, record: record,
                                        message: "record running longer than the \(deadline) deadline; still waiting"))
            }
        }
    }

    /// Logs the chapter's periodic metrics line: throughput and an error rate that is never NaN.
    func summaryLoop() async {
        let interval = configuration.summaryInterval
        var previous = metrics.snapshot
        while await sleepUnlessStopped(interval) {
            let now = metrics.snapshot
            let (buffered, inFlight) = scheduler.withLock { ($0.buffered, $0.inFlight) }
            metrics.buffered.record(buffered)
            metrics.inFlight.record(inFlight)
            let rate = Double(now.processed - previous.processed) / interval.seconds
            logger.info("summary", metadata: [
                LogKey.processed: "\(now.processed)", LogKey.failed: "\(now.failed)", LogKey.retried: "\(now.retried)",
                LogKey.deadLettered: "\(now.deadLettered)", LogKey.duplicates: "\(now.duplicatesSkipped)", LogKey.throughput: "\(Int(rate)) records/s",
                LogKey.errorRate: "\((now.errorRate * 10_000).rounded() / 100)%", LogKey.inFlight: "\(inFlight)",
            ])
            previous = now
        }
    }

    /// Sleeps `duration` of real time; returns `false` as soon as a stop is requested.
    func sleepUnlessStopped(_ duration: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await Task.sleep(for: duration)) != nil }
            group.addTask { [stopRequested] in
                await stopRequested.wait()
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first && !stopRequested.hasFired
        }
    }
}
