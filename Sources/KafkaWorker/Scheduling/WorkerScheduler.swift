import DequeModule
import KafkaClient

/// The worker's bookkeeping as a plain value: queued records per lane, which lanes run (at most
/// `maxConcurrency`), per-partition progress for contiguous commits, and which partitions should be paused.
///
/// The runtime mutates it under a lock and acts on what it returns (start lanes, store offsets, pause,
/// resume, wake the intake). Every mutation ends in ``settle(_:)``, which derives the pause changes and the
/// intake wake-up from the state *after* the change — so no change (a flush, a bulk revoke, a stop) can leave
/// the intake parked while there is room. It does no I/O, so tests drive it directly.
struct WorkerScheduler: Sendable {
    struct Limits: Sendable {
        var ordering: OrderingMode
        var maxConcurrency: Int
        var chunkSize: Int
        var maxBuffered: Int
        var maxBufferedPerPartition: Int
        /// Bytes (keys + values) held at which intake waits, like `maxBuffered`.
        var maxBufferedBytes: Int = .max
        /// The budget for the finished offsets above a commit, written into its metadata (0: none).
        var commitMetadataMaxBytes = 0
        /// `.key` lanes per partition: `.max` gives each key a lane of its own (its 64-bit hash; per-record handlers,
        /// so a key never waits behind another), a number spreads keys over that many lanes by hash (batch handlers:
        /// a batch is one lane's chunk, so a lane per key would make batches of one key's records).
        var keyLanes: Int = .max
        /// Bytes one partition may hold before it is paused alone: a quarter of the worker's (resumes at half of it).
        var maxBufferedBytesPerPartition: Int { maxBufferedBytes == .max ? .max : max(1, maxBufferedBytes / 4) }
    }

    /// Records a lane runs next; all from one partition, in order. A slice of a fetched batch: handing it
    /// over copies no record.
    struct Chunk: Sendable {
        var records: ArraySlice<KafkaRecord>
        var epoch: Int
    }

    enum Take: Sendable {
        case chunk(Chunk)
        /// Nothing to run: the lane stops; start `next` if set.
        case idle(next: LaneKey?)
    }

    /// What to do after records arrived or finished.
    struct Actions: Sendable {
        var startLanes: [LaneKey] = []
        /// Partitions over their own limit (stuck or slow): fetching them stops while the others flow.
        var pause: [KafkaTopicPartition] = []
        var resume: [KafkaTopicPartition] = []
        /// Contiguous watermarks that moved (what a commit could now cover; the worker commits from
        /// ``committableOffsets``, the model tests check every one of these is safe).
        var store: [KafkaTopicPartitionOffset] = []
        /// The intake was parked (the worker was full) and may go on: there is room again, or a stop.
        var wakeIntake = false
    }

    private struct Partition: Sendable {
        var epoch: Int
        /// The consumer's assignment generation: records polled at an earlier one are stale.
        var generation = 0
        var progress = PartitionProgress()
        var revoking = false
        var overLimit = false
        var paused = false
        var lastStored: Int64?
        /// Finished before this assignment (read from the committed offset's metadata): such records are taken as
        /// finished when they arrive, not run again. Ascending; dropped as the records go by.
        var skip: [ClosedRange<Int64>] = []
        /// The highest offset finished in this assignment. While the partition drains (stop, revoke), only records
        /// below it start: they fill the gaps lanes left, so the commit comes to cover every finished record.
        var highestFinished: Int64?

        /// A lost partition's revoke: nothing of it starts or is queued again.
        var dropsQueued = false

        /// Whether a record of this partition may start while it drains.
        func drains(_ offset: Int64) -> Bool { !dropsQueued && (highestFinished.map { offset < $0 } ?? false) }

        /// Notes a received offset; `false` for a re-fetched one.
        mutating func receive(_ offset: Int64, size: Int) -> Bool {
            let before = progress.unfinished
            progress.received(offset, size: size)
            guard progress.unfinished > before else { return false }
            // Where this assignment starts is already the group's position: store only once it moves.
            if lastStored == nil { lastStored = offset }
            return true
        }

        /// Notes finished offsets; returns how many (and how many bytes) were newly finished and the offset to
        /// store, if it moved. An over-limit partition resumes once at or below both `resumeBelow` (records) and
        /// `resumeBelowBytes`.
        mutating func finish(_ offsets: [Int64], resumeBelow: Int, resumeBelowBytes: Int) -> (Int, Int, Int64?) {
            var done = 0
            var bytes = 0
            for offset in offsets {
                guard let size = progress.finish(offset) else { continue }
                done += 1
                bytes += size
                if offset > highestFinished ?? .min { highestFinished = offset }
            }
            if overLimit && progress.unfinished <= resumeBelow && progress.unfinishedBytes <= resumeBelowBytes { overLimit = false }
            guard let next = progress.committableOffset, next != lastStored else { return (done, bytes, nil) }
            lastStored = next
            return (done, bytes, next)
        }
    }

    let limits: Limits
    private var partitions: [KafkaTopicPartition: Partition] = [:]
    private var queues: [LaneKey: LaneQueue] = [:]
    private var running: Set<LaneKey> = []
    private var waiting = Deque<LaneKey>()
    private var waitingSet: Set<LaneKey> = []
    private var nextEpoch = 1
    private var roundRobin = 0
    /// `.unordered` lanes whose current record is being retried: new records go to other lanes.
    private var blocked: Set<LaneKey> = []
    /// Shutdown: partitions drain (only records below their highest finished one start), then nothing does.
    private(set) var stopping = false
    /// Nothing starts any more (the drain is over: done, out of time, or forced).
    private(set) var halted = false
    /// Records received and not finished, over all partitions.
    private(set) var buffered = 0
    /// Their bytes (keys + values).
    private(set) var bufferedBytes = 0
    /// Records in chunks being run.
    private(set) var inFlight = 0
    /// The intake waits for room (it received a batch that made the worker full): a wake-up is owed.
    private(set) var intakeParked = false
    /// Records taken as finished on arrival because the commit's metadata listed them (see ``assign(_:generation:skip:)``).
    private(set) var skippedAsFinished = 0
    /// The metadata budget in force (0 once the broker refused metadata: commits go plain).
    private var metadataBytes: Int

    init(limits: Limits) {
        self.limits = limits
        metadataBytes = limits.commitMetadataMaxBytes
    }

    /// The broker refused a commit's metadata (too large for it): later commits carry none.
    mutating func disableCommitMetadata() { metadataBytes = 0 }

    /// `offset` to commit for `partition`, with the finished offsets above it as metadata when there are any: those
    /// finished in this assignment, then those listed by the commit it started from that have not arrived yet (they
    /// were finished before; a commit without them would make the next owner run them again).
    private func committing(_ partition: KafkaTopicPartition, _ offset: Int64, _ state: Partition) -> KafkaTopicPartitionOffset {
        guard metadataBytes > 0, state.progress.finishedAboveCommit > 0 || !state.skip.isEmpty else {
            return KafkaTopicPartitionOffset(partition, offset: offset)
        }
        let received = state.progress.lastReceived ?? (offset - 1)
        let notArrived = state.skip.lazy.filter { $0.upperBound > received }.map { max($0.lowerBound, received + 1)...$0.upperBound }
        return KafkaTopicPartitionOffset(partition, offset: offset, metadata: FinishedOffsetsMetadata.encode(
            committed: offset, state.progress.finishedRangesAboveCommit, then: notArrived, maxBytes: metadataBytes))
    }

    var assignment: [KafkaTopicPartition] { partitions.keys.filter { !partitions[$0]!.revoking }.sorted() }

    /// Starts tracking newly assigned partitions (a fresh epoch: late results of an earlier assignment are ignored).
    /// Records polled at an assignment `generation` lower than `generation` were fetched before it: dropped.
    /// `skip`: offsets finished before (read from the committed offset's metadata), taken as finished on arrival.
    mutating func assign(_ assigned: [KafkaTopicPartition], generation: Int = 0,
                         skip: [KafkaTopicPartition: [ClosedRange<Int64>]] = [:]) -> Actions {
        var actions = Actions()
        for partition in assigned {
            if let earlier = partitions[partition] { forget(partition, earlier) }
            partitions[partition] = Partition(epoch: nextEpoch, generation: generation, skip: skip[partition] ?? [])
            nextEpoch += 1
        }
        settle(&actions)
        return actions
    }

    /// The worker holds as many records as it may: intake should wait until ``hasRoom``.
    var isFull: Bool { buffered >= limits.maxBuffered || bufferedBytes >= limits.maxBufferedBytes }
    /// Down to half of both limits: intake may go on.
    var hasRoom: Bool { buffered <= limits.maxBuffered / 2 && bufferedBytes <= limits.maxBufferedBytes / 2 }

    /// Queues a fetched batch on its lanes. Records of partitions not assigned (or being revoked), and records
    /// polled before their partition's assignment (`generation` lower than its own), are dropped: they were never
    /// started, so nothing is committed for them. Parks the intake when the worker is now full.
    mutating func receive(_ batch: [KafkaRecord], generation: Int = .max) -> Actions {
        var actions = Actions()
        var index = 0
        // A batch holds runs of records of one partition: look each partition up once per run.
        while index < batch.count {
            let partition = batch[index].topicPartition
            var end = index + 1
            while end < batch.count && batch[end].partition == partition.partition && batch[end].topic == partition.topic {
                end += 1
            }
            receive(batch[index..<end], of: partition, generation: generation, &actions)
            index = end
        }
        if isFull && !stopping { intakeParked = true }
        settle(&actions)
        return actions
    }

    private mutating func receive(_ run: ArraySlice<KafkaRecord>, of partition: KafkaTopicPartition, generation: Int,
                                  _ actions: inout Actions) {
        // One lookup per run; the state is then mutated in place through its index (a copy would duplicate
        // its arrays, a lookup per record would hash the topic name per record).
        guard let position = partitions.index(forKey: partition), !partitions.values[position].revoking,
              generation >= partitions.values[position].generation else { return }
        if !partitions.values[position].skip.isEmpty {
            receiveSkipping(run, of: partition, at: position, &actions)
            return
        }
        var accepted = 0
        var acceptedBytes = 0
        let bytesBefore = partitions.values[position].progress.unfinishedBytes
        if limits.ordering == .partition {
            // Queue the run itself, split only around re-fetched records (offsets already received).
            let lane = LaneKey(partition: partition, slot: 0)
            var rangeStart = run.startIndex
            var refetched = 0
            for index in run.indices where !partitions.values[position].receive(run[index].offset, size: run[index].byteCount) {
                queues[lane, default: LaneQueue()].append(run[rangeStart..<index])
                rangeStart = index + 1
                refetched += 1
            }
            queues[lane, default: LaneQueue()].append(run[rangeStart...])
            accepted = run.count - refetched
            if accepted > 0 { start(lane, &actions) }
            acceptedBytes = partitions.values[position].progress.unfinishedBytes - bytesBefore
        } else if limits.ordering == .key {
            // A lane per key (its hash) or per hash slot (batch handlers, see `keyLanes`).
            var byLane: [Int: [KafkaRecord]] = [:]
            var order: [Int] = []
            for record in run where partitions.values[position].receive(record.offset, size: record.byteCount) {
                let slot = LaneKey.slot(forKey: record.key, slots: limits.keyLanes)
                if byLane[slot]?.append(record) == nil {
                    byLane[slot] = [record]
                    order.append(slot)
                }
                accepted += 1
            }
            for slot in order {
                let lane = LaneKey(partition: partition, slot: slot)
                queues[lane, default: LaneQueue()].append(byLane[slot]![...])
                start(lane, &actions)
            }
            acceptedBytes = partitions.values[position].progress.unfinishedBytes - bytesBefore
        } else {
            var bySlot = [[KafkaRecord]](repeating: [], count: limits.maxConcurrency)
            for record in run where partitions.values[position].receive(record.offset, size: record.byteCount) {
                bySlot[slot(for: record, of: partition)].append(record)
                accepted += 1
            }
            for (slot, records) in bySlot.enumerated() where !records.isEmpty {
                let lane = LaneKey(partition: partition, slot: slot)
                queues[lane, default: LaneQueue()].append(records[...])
                start(lane, &actions)
            }
            acceptedBytes = partitions.values[position].progress.unfinishedBytes - bytesBefore
        }
        account(accepted, bytes: acceptedBytes, at: position)
    }

    /// Counts newly received records and sets the partition's own limit.
    private mutating func account(_ accepted: Int, bytes acceptedBytes: Int, at position: Dictionary<KafkaTopicPartition, Partition>.Index) {
        guard accepted > 0 else { return }
        buffered += accepted
        bufferedBytes += acceptedBytes
        // A partition's own limit, in records and in bytes (a quarter of the worker's): one stuck partition can never
        // hold so much that the worker stays full for the others.
        if partitions.values[position].progress.unfinished >= limits.maxBufferedPerPartition
            || (partitions.values[position].progress.unfinishedBytes >= limits.maxBufferedBytesPerPartition
                && partitions.values[position].progress.unfinished > 1) {
            partitions.values[position].overLimit = true
        }
    }

    /// The slow path of ``receive(_:generation:)`` while a partition still has offsets to skip (just after its
    /// assignment): records listed as finished before are received and finished at once; the others are queued.
    private mutating func receiveSkipping(_ run: ArraySlice<KafkaRecord>, of partition: KafkaTopicPartition,
                                          at position: Dictionary<KafkaTopicPartition, Partition>.Index,
                                          _ actions: inout Actions) {
        var bySlot: [LaneKey: [KafkaRecord]] = [:]
        var skipped: [Int64] = []
        var accepted = 0
        let bytesBefore = partitions.values[position].progress.unfinishedBytes
        for record in run where partitions.values[position].receive(record.offset, size: record.byteCount) {
            accepted += 1
            while let first = partitions.values[position].skip.first, first.upperBound < record.offset {
                partitions.values[position].skip.removeFirst()
            }
            if partitions.values[position].skip.first?.contains(record.offset) == true {
                skipped.append(record.offset)
            } else {
                bySlot[LaneKey(partition: partition, slot: slot(for: record, of: partition)), default: []].append(record)
            }
        }
        for (lane, records) in bySlot.sorted(by: { $0.key.slot < $1.key.slot }) {
            queues[lane, default: LaneQueue()].append(records[...])
            start(lane, &actions)
        }
        account(accepted, bytes: partitions.values[position].progress.unfinishedBytes - bytesBefore, at: position)
        guard !skipped.isEmpty else { return }
        skippedAsFinished += skipped.count
        let (done, bytes, store) = partitions.values[position].finish(
            skipped, resumeBelow: limits.maxBufferedPerPartition / 2, resumeBelowBytes: limits.maxBufferedBytesPerPartition / 2)
        buffered -= done
        bufferedBytes -= bytes
        if let store { actions.store.append(KafkaTopicPartitionOffset(partition, offset: store)) }
    }

    /// The next records for a running lane, or `.idle` (the lane stops and maybe hands its slot on).
    mutating func take(for lane: LaneKey) -> Take {
        guard !halted, let position = partitions.index(forKey: lane.partition), let queue = queues.index(forKey: lane) else {
            queues[lane] = nil
            running.remove(lane)
            return .idle(next: startWaiting())
        }
        let draining = stopping || partitions.values[position].revoking
        let taken = draining
            ? partitions.values[position].highestFinished.flatMap { queues.values[queue].take(upTo: limits.chunkSize, below: $0) }
            : queues.values[queue].take(upTo: limits.chunkSize)
        guard let records = taken else {
            // Draining and nothing below the highest finished record: the lane waits (its queue kept) in case a record
            // still running finishes higher up.
            if !draining { queues.remove(at: queue) }
            running.remove(lane)
            return .idle(next: startWaiting())
        }
        if queues.values[queue].count == 0 { queues.remove(at: queue) }
        inFlight += records.count
        return .chunk(Chunk(records: records, epoch: partitions.values[position].epoch))
    }

    /// A lane finished part of a chunk (`finished` offsets) and may still be running the rest.
    mutating func finished(_ offsets: [Int64], of partition: KafkaTopicPartition, epoch: Int) -> Actions {
        var actions = Actions()
        inFlight -= offsets.count
        guard let position = partitions.index(forKey: partition), partitions.values[position].epoch == epoch else { return actions }
        let highestBefore = partitions.values[position].highestFinished
        let (done, bytes, store) = partitions.values[position].finish(
            offsets, resumeBelow: limits.maxBufferedPerPartition / 2, resumeBelowBytes: limits.maxBufferedBytesPerPartition / 2)
        buffered -= done
        bufferedBytes -= bytes
        if let store { actions.store.append(KafkaTopicPartitionOffset(partition, offset: store)) }
        if (stopping || partitions.values[position].revoking) && !halted && partitions.values[position].highestFinished != highestBefore {
            // A drain's bound rose: lanes that stopped at the old one may have records below the new one.
            let state = partitions.values[position]
            for (lane, queue) in queues where lane.partition == partition && queue.firstOffset.map(state.drains) == true {
                start(lane, &actions)
            }
        }
        settle(&actions)
        return actions
    }

    /// A lane is done with a chunk: `unfinished` records of it were not run (stop or revoke).
    /// Returns whether the lane should yield its slot to a waiting lane (fairness), and which lane to start.
    /// While the partition drains, the records not run (`returning`: the chunk's tail from the first one not run)
    /// go back to the front of the lane's queue: a record that a rising drain bound passes later can still run.
    /// `gaveUp`: a record of the chunk was tried and abandoned (it failed while its partition drains): nothing else
    /// of the lane may run before it (its keys keep their order), so the lane's queue is dropped and the lane is done
    /// for this drain. (Put back instead, the failed record would run again at once, for ever.)
    mutating func chunkDone(lane: LaneKey, epoch: Int, unfinished: Int, returning: ArraySlice<KafkaRecord> = [],
                            gaveUp: Bool = false) -> LaneKey? {
        inFlight -= unfinished
        if let position = partitions.index(forKey: lane.partition), partitions.values[position].epoch == epoch {
            let draining = stopping || partitions.values[position].revoking
            if gaveUp && draining {
                queues[lane] = nil
            } else if !returning.isEmpty && !halted && draining && !partitions.values[position].dropsQueued {
                queues[lane, default: LaneQueue()].prepend(returning)
            }
        }
        guard !waiting.isEmpty, !stopping, queues[lane] != nil else { return nil }
        // Others are waiting for a slot: go to the back of the line and let the first one run.
        running.remove(lane)
        waiting.append(lane)
        waitingSet.insert(lane)
        if let next = startWaiting() { return next }
        // Nobody could run (draining lanes with nothing below their bound, this one included): the lane keeps its
        // slot and asks for its next chunk, which parks it under the lock. Were it left out of `running` here, a
        // rising drain bound could start it a second time while its task still runs.
        running.insert(lane)
        return nil
    }

    /// Begins a revoke: queued records of `revoked` are dropped (never started, so never committed) and no
    /// more chunks of them are handed out. Finished records still count until ``completeRevoke(_:)``. Returns
    /// the epochs being revoked: ``completeRevoke(_:)`` forgets those only.
    mutating func beginRevoke(_ revoked: [KafkaTopicPartition], drain: Bool = false) -> ([KafkaTopicPartition: Int], Actions) {
        let revokedSet = Set(revoked)
        var epochs: [KafkaTopicPartition: Int] = [:]
        for partition in revoked where partitions[partition] != nil {
            partitions[partition]!.revoking = true
            partitions[partition]!.dropsQueued = !drain
            epochs[partition] = partitions[partition]!.epoch
        }
        // A graceful revoke drains: queued records below a partition's highest finished one still run (``take(for:)``)
        // until the revoke completes. A lost partition is already someone else's: nothing more of it starts.
        if !drain {
            for lane in queues.keys where revokedSet.contains(lane.partition) { queues[lane] = nil }
            waiting.removeAll { revokedSet.contains($0.partition) }
            waitingSet = waitingSet.filter { !revokedSet.contains($0.partition) }
        }
        var actions = Actions()
        settle(&actions)
        return (epochs, actions)
    }

    /// Whether no lane of `partitions` runs, or waits for a slot with records below its partition's drain bound
    /// (their drain is over).
    func isDrained(_ drained: [KafkaTopicPartition]) -> Bool {
        let set = Set(drained)
        guard !running.contains(where: { set.contains($0.partition) }) else { return false }
        return !waitingSet.contains { lane in
            guard set.contains(lane.partition), let state = partitions[lane.partition] else { return false }
            return queues[lane]?.firstOffset.map(state.drains) == true
        }
    }

    /// The offsets to commit for the revoked partitions (unless lost), and forgets them — each only if it is
    /// still at the epoch its revoke began with (`epochs`, from ``beginRevoke(_:)``). Late results are ignored.
    mutating func completeRevoke(_ epochs: [KafkaTopicPartition: Int]) -> ([KafkaTopicPartitionOffset], Actions) {
        var offsets: [KafkaTopicPartitionOffset] = []
        for (partition, epoch) in epochs {
            guard let state = partitions[partition], state.epoch == epoch else { continue }
            if let next = state.progress.committableOffset { offsets.append(committing(partition, next, state)) }
            forget(partition, state)
        }
        var actions = Actions()
        settle(&actions)
        return (offsets.sorted { $0.topicPartition < $1.topicPartition }, actions)
    }

    /// Drops a partition's state, its records held and its lanes' bookkeeping.
    private mutating func forget(_ partition: KafkaTopicPartition, _ state: Partition) {
        partitions[partition] = nil
        buffered -= state.progress.unfinished
        bufferedBytes -= state.progress.unfinishedBytes
        for lane in queues.keys where lane.partition == partition { queues[lane] = nil }
        for lane in waitingSet where lane.partition == partition { waitingSet.remove(lane) }
        blocked = blocked.filter { $0.partition != partition }
        waiting.removeAll { $0.partition == partition }
    }

    /// Shutdown begins: the intake is let go, and every partition drains — lanes run only the queued records below
    /// its highest finished one (lowest offsets first), so the commit can cover all finished work; records above it
    /// never start. Running records finish. ``isDrained`` tells when the drain is over; ``halt()`` ends it early.
    mutating func stop() -> Actions {
        stopping = true
        var actions = Actions()
        // Lanes with the lowest records first: when the grace period ends, the commit has come as far as it could.
        let order = waiting.sorted { (queues[$0]?.firstOffset ?? .max) < (queues[$1]?.firstOffset ?? .max) }
        waiting = Deque(order)
        settle(&actions)
        return actions
    }

    /// Nothing starts any more: the drain is over (grace period, forced stop). Running records finish or are abandoned.
    mutating func halt() -> Actions {
        stopping = true
        halted = true
        var actions = Actions()
        settle(&actions)
        return actions
    }

    /// No lane runs or waits to run: a stop's drain is over.
    var isDrained: Bool { running.isEmpty && waiting.isEmpty }

    /// Finished records above what each partition would commit now: delivered again after a restart.
    var finishedAboveCommit: Int {
        partitions.values.reduce(0) { $0 + $1.progress.finishedAboveCommit }
    }

    /// The offset each partition would commit now.
    var committableOffsets: [KafkaTopicPartitionOffset] {
        committableOffsetsByGeneration.map(\.offset)
    }

    /// The offset each partition would commit now, with the consumer's assignment generation it belongs to (a commit
    /// sent later is dropped if the partition was assigned again meanwhile).
    var committableOffsetsByGeneration: [(offset: KafkaTopicPartitionOffset, generation: Int)] {
        partitions.compactMap { partition, state in
            state.progress.committableOffset.map { (committing(partition, $0, state), state.generation) }
        }.sorted { $0.offset.topicPartition < $1.offset.topicPartition }
    }

    /// Whether records of this partition and epoch should still run (no stop or revoke since they were taken).
    func isCurrent(_ partition: KafkaTopicPartition, epoch: Int) -> Bool {
        guard !stopping, let position = partitions.index(forKey: partition) else { return false }
        return partitions.values[position].epoch == epoch && !partitions.values[position].revoking
    }

    /// Whether the record at `offset` may start (or go on: a retry, a dead letter): its partition is current, or it
    /// drains and the record lies below the highest finished one.
    func mayRun(_ partition: KafkaTopicPartition, epoch: Int, offset: Int64) -> Bool {
        guard !halted, let position = partitions.index(forKey: partition), partitions.values[position].epoch == epoch else {
            return false
        }
        return !(stopping || partitions.values[position].revoking) || partitions.values[position].drains(offset)
    }

    private mutating func slot(for record: KafkaRecord, of partition: KafkaTopicPartition) -> Int {
        switch limits.ordering {
        case .key: return LaneKey.slot(forKey: record.key, slots: limits.keyLanes)
        case .unordered: return nextUnorderedSlot(of: partition)
        default: return 0
        }
    }

    /// Round robin over the partition's lanes, skipping lanes stuck in a retry while another is free.
    private mutating func nextUnorderedSlot(of partition: KafkaTopicPartition) -> Int {
        for _ in 0..<limits.maxConcurrency {
            roundRobin &+= 1
            let slot = roundRobin % limits.maxConcurrency
            if !blocked.contains(LaneKey(partition: partition, slot: slot)) { return slot }
        }
        return roundRobin % limits.maxConcurrency
    }

    /// An `.unordered` lane's record failed and will be retried: `remaining` (its chunk's records not started)
    /// and the lane's queue move to other lanes, so nothing waits behind the retry. Other modes keep their
    /// order: nothing moves.
    mutating func laneBlocked(_ lane: LaneKey, epoch: Int, remaining: [KafkaRecord]) -> (moved: Int, actions: Actions) {
        // Only for the current assignment: records of an earlier one must never join a later one's queues (a revoke
        // and a new assign can come between the retry's decision and this call).
        guard limits.ordering == .unordered, limits.maxConcurrency > 1, !halted,
              partitions[lane.partition]?.epoch == epoch else { return (0, Actions()) }
        blocked.insert(lane)
        inFlight -= remaining.count
        var actions = Actions()
        let queued = queues.removeValue(forKey: lane)?.records ?? []
        for record in remaining + queued {
            let target = LaneKey(partition: lane.partition, slot: nextUnorderedSlot(of: lane.partition))
            queues[target, default: LaneQueue()].append([record][...])
            start(target, &actions)
        }
        settle(&actions)
        return (remaining.count, actions)
    }

    mutating func laneUnblocked(_ lane: LaneKey) { blocked.remove(lane) }

    private mutating func start(_ lane: LaneKey, _ actions: inout Actions) {
        guard !halted, !running.contains(lane) && !waitingSet.contains(lane) else { return }
        if running.count < limits.maxConcurrency {
            running.insert(lane)
            actions.startLanes.append(lane)
        } else {
            waiting.append(lane)
            waitingSet.insert(lane)
        }
    }

    /// The next waiting lane that has work; a draining partition's lane only with records below its highest
    /// finished one (the others keep their queue, for a later rise of that bound).
    private mutating func startWaiting() -> LaneKey? {
        guard !halted else { return nil }
        while let lane = waiting.popFirst() {
            waitingSet.remove(lane)
            guard let queue = queues[lane], let state = partitions[lane.partition] else { continue }
            if stopping || state.revoking, queue.firstOffset.map(state.drains) != true { continue }
            running.insert(lane)
            return lane
        }
        return nil
    }

    /// Ends every mutation: pause changes and the intake wake-up, from the state as it is now.
    private mutating func settle(_ actions: inout Actions) {
        updatePauses(&actions)
        if intakeParked && (hasRoom || stopping) {
            intakeParked = false
            actions.wakeIntake = true
        }
    }

    private mutating func updatePauses(_ actions: inout Actions) {
        // Positions first: iterating `partitions.indices` while mutating would hold a second reference to the
        // dictionary's storage and copy it.
        var changed: [Dictionary<KafkaTopicPartition, Partition>.Index] = []
        var position = partitions.startIndex
        while position != partitions.endIndex {
            // Field by field: reading the whole state would copy (and retain) its offset arrays.
            if !partitions.values[position].revoking
                && partitions.values[position].overLimit != partitions.values[position].paused {
                changed.append(position)
            }
            position = partitions.index(after: position)
        }
        for position in changed {
            let overLimit = partitions.values[position].overLimit
            partitions.values[position].paused = overLimit
            let partition = partitions.keys[position]
            if overLimit { actions.pause.append(partition) } else { actions.resume.append(partition) }
        }
    }
}
