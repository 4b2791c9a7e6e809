import KafkaClient
@testable import KafkaWorker

extension SchedulerModel {
    /// Drives a `WorkerScheduler` as the worker does (intake, lane tasks, poll-thread rebalances) and mirrors it in
    /// a plain model.
    struct Driver {
        static let partitions = (0..<3).map { KafkaTopicPartition(topic: "t", partition: Int32($0)) }
        let limits: WorkerScheduler.Limits
        var scheduler: WorkerScheduler
        var model: [KafkaTopicPartition: PartitionModel] = [:]
        /// Where each partition's next assignment starts (its committed offset).
        var committed: [KafkaTopicPartition: Int64] = [:]
        var tasks: [LaneTask] = []
        var paused: Set<KafkaTopicPartition> = []
        var intakeWaiting = false
        var generation = 0
        var stopped = false
        var revoking: [KafkaTopicPartition: Int] = [:]

        init(limits: WorkerScheduler.Limits) {
            self.limits = limits
            scheduler = WorkerScheduler(limits: limits)
            _ = assign(Self.partitions)
        }

        // MARK: Actions

        /// Applies the scheduler's actions to the model; returns a broken invariant, if any.
        mutating func absorb(_ actions: WorkerScheduler.Actions) -> String? {
            for lane in actions.startLanes {
                if tasks.contains(where: { $0.lane == lane }) { return "lane \(lane) started twice" }
                tasks.append(LaneTask(lane: lane))
            }
            for partition in actions.pause {
                if paused.contains(partition) { return "\(partition) paused twice" }
                paused.insert(partition)
            }
            for partition in actions.resume {
                if !paused.contains(partition) { return "\(partition) resumed while not paused" }
                paused.remove(partition)
            }
            for stored in actions.store {
                guard let state = model[stored.topicPartition], state.epoch != nil else { return "store for unknown \(stored)" }
                if let failure = Self.safe(stored.offset, state) { return "store \(stored): \(failure)" }
                if let last = state.lastStored, stored.offset <= last { return "store \(stored) not above \(last)" }
                model[stored.topicPartition]!.lastStored = stored.offset
                committed[stored.topicPartition] = stored.offset
            }
            if actions.wakeIntake {
                if !intakeWaiting { return "intake woken while not waiting" }
                intakeWaiting = false
            }
            return nil
        }

        /// An offset may be committed only when every record below it is finished.
        static func safe(_ offset: Int64, _ state: PartitionModel) -> String? {
            if let unfinished = state.received.first(where: { !state.finished.contains($0) }), unfinished < offset {
                return "passes unfinished \(unfinished)"
            }
            if let last = state.received.last, offset > last + 1 { return "beyond the last received \(last)" }
            return nil
        }

        mutating func assign(_ partitions: [KafkaTopicPartition]) -> String? {
            generation += 1
            let actions = scheduler.assign(partitions, generation: generation)
            for partition in partitions {
                model[partition] = PartitionModel(epoch: nil, generation: generation, nextFetch: committed[partition] ?? 0)
                paused.remove(partition)  // the consumer forgets pauses of revoked partitions
            }
            return absorb(actions)
        }

        // MARK: Operations

        mutating func apply(_ operation: Operation) -> String? {
            switch operation.kind {
            case .receive: return receive(operation)
            case .take: return take(operation)
            case .finish: return finish(operation)
            case .chunkDone: return chunkDone(operation)
            case .beginRevoke: return beginRevoke(operation)
            case .completeRevoke: return completeRevoke(operation, lost: false)
            case .lose: return lose(operation)
            case .assign:
                let free = Self.partitions.filter { model[$0] == nil }
                guard !free.isEmpty else { return nil }
                return assign([free[Int(operation.a % UInt64(free.count))]])
            case .block: return block(operation)
            case .stop:
                stopped = true
                passRunningRecords()
                return absorb(scheduler.stop())
            }
        }

        mutating func receive(_ operation: Operation) -> String? {
            guard !intakeWaiting, !stopped else { return nil }
            var batch: [KafkaRecord] = []
            var accepted: [KafkaTopicPartition: [(Int64, Int)]] = [:]
            // One batch, polled at one generation; sometimes a stale one (polled before the last assignment).
            let stale = operation.c % 7 == 0 && generation > 1
            let polledAt = stale ? generation - 1 : generation
            for (index, partition) in Self.partitions.enumerated() where (operation.a >> UInt64(index)) & 1 == 1 {
                guard let state = model[partition] else {
                    // Not assigned: whatever arrives is dropped.
                    batch.append(KafkaRecord(topic: partition.topic, partition: partition.partition, offset: 0))
                    continue
                }
                let count = 1 + Int((operation.b >> UInt64(index * 4)) % 6)
                var offset = state.nextFetch
                for _ in 0..<count {
                    let key = KafkaBytes(utf8: "k\((operation.c >> UInt64(offset % 8)) % 5)")
                    let value = KafkaBytes([UInt8](repeating: 0, count: Int((operation.b >> UInt64(offset % 16)) % 3) * 150))
                    batch.append(KafkaRecord(topic: partition.topic, partition: partition.partition, offset: offset, key: key, value: value))
                    accepted[partition, default: []].append((offset, key.count + value.count))
                    offset += 1 + Int64((operation.c >> UInt64(index)) % 2)  // gaps, as in compacted topics
                }
                if !state.revoking && polledAt >= state.generation { model[partition]!.nextFetch = offset }
            }
            guard !batch.isEmpty else { return nil }
            let actions = scheduler.receive(batch, generation: polledAt)
            for (partition, offsets) in accepted {
                guard let state = model[partition], !state.revoking, polledAt >= state.generation else { continue }
                model[partition]!.received += offsets.map(\.0)
                for (offset, size) in offsets { model[partition]!.sizes[offset] = size }
            }
            if scheduler.intakeParked { intakeWaiting = true }
            return absorb(actions)
        }

        mutating func take(_ operation: Operation) -> String? {
            let idle = tasks.indices.filter { !tasks[$0].holding }
            guard !idle.isEmpty else { return nil }
            let index = idle[Int(operation.a % UInt64(idle.count))]
            switch scheduler.take(for: tasks[index].lane) {
            case .chunk(let chunk):
                tasks[index].chunk = Array(chunk.records)
                tasks[index].epoch = chunk.epoch
                tasks[index].done = 0
                tasks[index].holding = true
                tasks[index].handedOff = false
                let partition = tasks[index].lane.partition
                if model[partition]?.epoch == nil { model[partition]?.epoch = chunk.epoch }
                if model[partition]?.epoch != chunk.epoch { return "chunk of epoch \(chunk.epoch) for a newer assignment" }
                for record in chunk.records where model[partition]?.received.contains(record.offset) != true {
                    return "chunk holds \(record.offset) of \(partition), never accepted"
                }
                // A draining partition (stop, revoke) hands out only records below its highest finished one.
                if let state = model[partition], stopped || state.revoking,
                   let above = chunk.records.first(where: { $0.offset >= state.finished.max() ?? .min }) {
                    return "draining \(partition) handed out \(above.offset), not below its highest finished record"
                }
            case .idle(let next):
                if let next { tasks[index] = LaneTask(lane: next) } else { tasks.remove(at: index) }
            }
            return nil
        }

        /// The lane finishes its next records (and sometimes reports them).
        mutating func finish(_ operation: Operation) -> String? {
            let holding = tasks.indices.filter { tasks[$0].holding && tasks[$0].done < tasks[$0].chunk.count }
            guard !holding.isEmpty else { return nil }
            let index = holding[Int(operation.a % UInt64(holding.count))]
            let count = min(1 + Int(operation.b % 3), tasks[index].chunk.count - tasks[index].done)
            for _ in 0..<count where mayStartNext(index) {
                tasks[index].unreported.append(tasks[index].chunk[tasks[index].done].offset)
                tasks[index].done += 1
                tasks[index].pass = nil
            }
            return operation.c % 2 == 0 ? report(index) : nil
        }

        mutating func report(_ index: Int) -> String? {
            let offsets = tasks[index].unreported
            guard !offsets.isEmpty else { return nil }
            tasks[index].unreported = []
            let partition = tasks[index].lane.partition
            let actions = scheduler.finished(offsets, of: partition, epoch: tasks[index].epoch)
            if model[partition]?.epoch == tasks[index].epoch { model[partition]!.finished.formUnion(offsets) }
            return absorb(actions)
        }

        /// The lane ends its chunk: all of it finished, or (its partition no longer current) the rest abandoned.
        mutating func chunkDone(_ operation: Operation) -> String? {
            let candidates = tasks.indices.filter { index in
                tasks[index].holding && (tasks[index].done == tasks[index].chunk.count || !mayStartNext(index))
            }
            guard !candidates.isEmpty else { return nil }
            return endChunk(candidates[Int(operation.a % UInt64(candidates.count))])
        }

        mutating func endChunk(_ index: Int) -> String? {
            if let failure = report(index) { return failure }
            // A lane that handed records off kept only its chunk up to the retried record.
            let unfinished = tasks[index].chunk.count - tasks[index].done
            let next = scheduler.chunkDone(lane: tasks[index].lane, epoch: tasks[index].epoch, unfinished: unfinished,
                                           returning: tasks[index].chunk[tasks[index].done...])
            tasks[index] = LaneTask(lane: next ?? tasks[index].lane)
            return nil
        }

        /// `.unordered`: the lane's current record is retried; the rest of its chunk goes to other lanes.
        mutating func block(_ operation: Operation) -> String? {
            // A record is retried only while it may run (the runner asks before it backs off).
            let holding = tasks.indices.filter {
                tasks[$0].holding && !tasks[$0].handedOff && mayStartNext($0)
                    && scheduler.isCurrent(tasks[$0].lane.partition, epoch: tasks[$0].epoch)
            }
            guard !holding.isEmpty else { return nil }
            let index = holding[Int(operation.a % UInt64(holding.count))]
            let current = tasks[index].done
            let remaining = Array(tasks[index].chunk[(current + 1)...])
            let (moved, actions) = scheduler.laneBlocked(tasks[index].lane, epoch: tasks[index].epoch, remaining: remaining)
            if moved > 0 {
                tasks[index].chunk = Array(tasks[index].chunk[...current])
                tasks[index].handedOff = true
            }
            let failure = absorb(actions)
            scheduler.laneUnblocked(tasks[index].lane)
            return failure
        }

        mutating func beginRevoke(_ operation: Operation) -> String? {
            let owned = Self.partitions.filter { model[$0] != nil && model[$0]!.revoking == false }
            guard !owned.isEmpty else { return nil }
            let chosen = owned.enumerated().filter { (operation.a >> UInt64($0.offset)) & 1 == 1 }.map(\.element)
            let revoked = chosen.isEmpty ? [owned[0]] : chosen
            passRunningRecords()
            let (epochs, actions) = scheduler.beginRevoke(revoked, drain: operation.b % 4 != 0)
            revoking.merge(epochs) { $1 }
            for partition in revoked { model[partition]!.revoking = true }
            return absorb(actions)
        }

        mutating func completeRevoke(_ operation: Operation, lost: Bool) -> String? {
            let pending = revoking.keys.sorted()
            guard !pending.isEmpty else { return nil }
            // Lanes hand in what they finished first (the worker flushes every lane).
            for index in tasks.indices { if let failure = report(index) { return failure } }
            let (offsets, actions) = scheduler.completeRevoke(revoking)
            for offset in offsets where !lost {
                guard let state = model[offset.topicPartition] else { return "revoke commit for unknown \(offset)" }
                if let failure = Self.safe(offset.offset, state) { return "revoke commit \(offset): \(failure)" }
                committed[offset.topicPartition] = offset.offset
            }
            if Set(offsets.map(\.topicPartition)).subtracting(pending).count > 0 { return "revoke committed other partitions" }
            for partition in pending {
                model[partition] = nil
                paused.remove(partition)
            }
            revoking = [:]
            return absorb(actions)
        }

        mutating func lose(_ operation: Operation) -> String? {
            if revoking.isEmpty, let failure = beginRevoke(operation) { return failure }
            return completeRevoke(operation, lost: true)
        }

        /// Whether a lane's next record may start: the scheduler says so, or it was already running when a stop or
        /// revoke began (a running record always finishes).
        func mayStartNext(_ index: Int) -> Bool {
            let task = tasks[index]
            guard task.done < task.chunk.count else { return false }
            let offset = task.chunk[task.done].offset
            return task.pass == offset || scheduler.mayRun(task.lane.partition, epoch: task.epoch, offset: offset)
        }

        /// A stop or revoke begins: each lane's next record counts as running (it may finish whatever the drain says).
        mutating func passRunningRecords() {
            for index in tasks.indices where tasks[index].holding && tasks[index].done < tasks[index].chunk.count {
                if tasks[index].pass == nil, mayStartNext(index) { tasks[index].pass = tasks[index].chunk[tasks[index].done].offset }
            }
        }

        // MARK: Invariants

        func check() -> String? {
            let held = model.values.reduce(0) { $0 + $1.unfinished }
            if scheduler.buffered != held { return "buffered \(scheduler.buffered), model holds \(held)" }
            let heldBytes = model.values.reduce(0) { $0 + $1.unfinishedBytes }
            if scheduler.bufferedBytes != heldBytes { return "bufferedBytes \(scheduler.bufferedBytes), model holds \(heldBytes)" }
            let running = tasks.reduce(0) { sum, task in
                sum + (task.holding ? task.chunk.count - task.done + task.unreported.count : 0)
            }
            if scheduler.inFlight != running { return "inFlight \(scheduler.inFlight), lanes run \(running)" }
            if scheduler.intakeParked != intakeWaiting { return "scheduler parked \(scheduler.intakeParked), model \(intakeWaiting)" }
            if intakeWaiting && (scheduler.hasRoom || stopped) { return "intake parked with room (\(scheduler.buffered) held)" }
            for (partition, state) in model where !state.revoking {
                let isPaused = paused.contains(partition)
                let bytes = state.unfinishedBytes
                if (state.unfinished >= limits.maxBufferedPerPartition
                    || (bytes >= limits.maxBufferedBytesPerPartition && state.unfinished > 1)) && !isPaused {
                    return "\(partition) holds \(state.unfinished) records, \(bytes) bytes ≥ its limit and is not paused"
                }
                if isPaused && state.unfinished <= limits.maxBufferedPerPartition / 2 && bytes <= limits.maxBufferedBytesPerPartition / 2 {
                    return "\(partition) holds \(state.unfinished) records, \(bytes) bytes and stays paused"
                }
            }
            if !paused.isSubset(of: Set(model.keys)) { return "paused partitions not assigned: \(paused)" }
            return nil
        }

        /// Completes pending revokes, then runs every lane to the end: every record held must finish and be
        /// committable, and nothing may stay parked.
        mutating func drainAndCheck() -> String? {
            if !revoking.isEmpty, let failure = completeRevoke(Operation(kind: .completeRevoke, a: 0, b: 0, c: 0), lost: false) {
                return failure
            }
            var rounds = 0
            while !tasks.isEmpty {
                rounds += 1
                if rounds > 100_000 { return "lanes never ran out of work" }
                if tasks[0].holding {
                    while mayStartNext(0) {
                        tasks[0].unreported.append(tasks[0].chunk[tasks[0].done].offset)
                        tasks[0].done += 1
                        tasks[0].pass = nil
                    }
                    if let failure = endChunk(0) { return failure }
                } else if let failure = take(Operation(kind: .take, a: 0, b: 0, c: 0)) {
                    return failure
                }
                if let failure = check() { return failure }
            }
            if stopped {
                // The drain is over: the commit covers every finished record (none is delivered again).
                if !scheduler.isDrained { return "lanes ran out of work but the scheduler is not drained" }
                for (partition, state) in model where state.epoch != nil || !state.received.isEmpty {
                    guard let commit = state.committable, let above = state.finished.filter({ $0 >= commit }).min() else { continue }
                    return "\(partition): finished \(above) lies above the commit \(commit) after the drain"
                }
                if scheduler.finishedAboveCommit != 0 { return "scheduler counts \(scheduler.finishedAboveCommit) finished above the commit" }
                return nil
            }
            if intakeWaiting { return "intake still parked with \(scheduler.buffered) held" }
            for (partition, state) in model where state.unfinished > 0 {
                return "\(partition) holds \(state.unfinished) unfinished records and no lane runs them (stall)"
            }
            let expected = model.compactMap { partition, state in
                state.committable.map { KafkaTopicPartitionOffset(partition, offset: $0) }
            }.sorted { $0.topicPartition < $1.topicPartition }
            if scheduler.committableOffsets != expected { return "committable \(scheduler.committableOffsets), model \(expected)" }
            return nil
        }
    }
}
