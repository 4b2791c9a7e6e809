import KafkaClient
@testable import KafkaWorker
import Testing

@Suite("Scheduling, ordering and back-pressure (plain values)")
struct WorkerSchedulerTests {
    static let p0 = KafkaTopicPartition(topic: "t", partition: 0)
    static let p1 = KafkaTopicPartition(topic: "t", partition: 1)

    static func scheduler(_ ordering: OrderingMode = .partition, concurrency: Int = 4, chunk: Int = 100,
                          maxBuffered: Int = 1_000, perPartition: Int = 500) -> WorkerScheduler {
        WorkerScheduler(limits: .init(ordering: ordering, maxConcurrency: concurrency, chunkSize: chunk,
                                      maxBuffered: maxBuffered, maxBufferedPerPartition: perPartition))
    }

    static func records(_ partition: KafkaTopicPartition, _ offsets: Range<Int64>, key: (Int64) -> String = { _ in "k" })
        -> [KafkaRecord]
    {
        offsets.map { KafkaRecord(topic: partition.topic, partition: partition.partition, offset: $0, key: KafkaBytes(utf8: key($0))) }
    }

    static func chunk(_ take: WorkerScheduler.Take) -> WorkerScheduler.Chunk? {
        if case .chunk(let chunk) = take { return chunk }
        return nil
    }

    @Test(".partition: one lane per partition, records in offset order, chunks of the configured size")
    func partitionLanes() {
        var scheduler = Self.scheduler(chunk: 3)
        _ = scheduler.assign([Self.p0, Self.p1])
        let actions = scheduler.receive(Self.records(Self.p0, 0..<5) + Self.records(Self.p1, 0..<2))
        #expect(Set(actions.startLanes) == [LaneKey(partition: Self.p0, slot: 0), LaneKey(partition: Self.p1, slot: 0)])
        let lane = LaneKey(partition: Self.p0, slot: 0)
        let first = Self.chunk(scheduler.take(for: lane))
        #expect(first?.records.map(\.offset) == [0, 1, 2])
        let second = Self.chunk(scheduler.take(for: lane))
        #expect(second?.records.map(\.offset) == [3, 4])
        #expect(scheduler.inFlight == 5)
        let store = scheduler.finished([0, 1, 2], of: Self.p0, epoch: first!.epoch).store
        #expect(store == [KafkaTopicPartitionOffset(Self.p0, offset: 3)])
        _ = scheduler.chunkDone(lane: lane, epoch: first!.epoch, unfinished: 0)
        guard case .idle = scheduler.take(for: lane) else { Issue.record("lane should be idle"); return }
    }

    @Test(".key: a lane per key — 20 keys at maxConcurrency 8 make 20 lanes (8 run, the rest wait their turn), in order")
    func keyLanes() {
        var scheduler = Self.scheduler(.key, concurrency: 8)
        _ = scheduler.assign([Self.p0])
        let actions = scheduler.receive(Self.records(Self.p0, 0..<200) { "customer-\($0 % 20)" })
        #expect(actions.startLanes.count == 8)
        var offsetsByKey: [String: [Int64]] = [:]
        var lanes = actions.startLanes
        var seen: Set<LaneKey> = []
        while let lane = lanes.popLast() {
            seen.insert(lane)
            while true {
                switch scheduler.take(for: lane) {
                case .chunk(let chunk):
                    for record in chunk.records {
                        offsetsByKey[String(decoding: record.key!, as: UTF8.self), default: []].append(record.offset)
                    }
                    let keys = Set(chunk.records.map { String(decoding: $0.key!, as: UTF8.self) })
                    #expect(keys.count == 1 && LaneKey.slot(forKey: chunk.records.first!.key) == lane.slot, "a lane holds one key")
                    continue
                case .idle(let next):
                    if let next { lanes.append(next) }
                }
                break
            }
        }
        #expect(seen.count == 20, "a lane per key")
        #expect(offsetsByKey.count == 20)
        #expect(offsetsByKey.values.allSatisfy { $0 == $0.sorted() }, "per key, offsets stay in order")
    }

    @Test("short queued runs are joined into one chunk, in order and up to the chunk size; long runs are not copied")
    func shortRunsJoined() {
        var scheduler = Self.scheduler(chunk: 10)
        _ = scheduler.assign([Self.p0])
        let lane = LaneKey(partition: Self.p0, slot: 0)
        // Seven fetched batches of three records each, queued before the lane takes anything.
        for start in stride(from: Int64(0), to: 21, by: 3) { _ = scheduler.receive(Self.records(Self.p0, start..<start + 3)) }
        var chunks: [[Int64]] = []
        while let chunk = Self.chunk(scheduler.take(for: lane)) {
            chunks.append(chunk.records.map(\.offset))
            _ = scheduler.chunkDone(lane: lane, epoch: chunk.epoch, unfinished: 0)
        }
        #expect(chunks == [Array(0..<9), Array(9..<18), Array(18..<21)])
        #expect(scheduler.inFlight == 21)

        // A long run is handed out as a slice of the fetched batch, split at the chunk size.
        _ = scheduler.receive(Self.records(Self.p0, 21..<46))
        var long: [[Int64]] = []
        while let chunk = Self.chunk(scheduler.take(for: lane)) { long.append(chunk.records.map(\.offset)) }
        #expect(long == [Array(21..<31), Array(31..<41), Array(41..<46)])
    }

    @Test("at most maxConcurrency lanes run; a finished lane hands its slot to a waiting one")
    func concurrencyLimit() {
        var scheduler = Self.scheduler(.unordered, concurrency: 2)
        _ = scheduler.assign([Self.p0])
        let started = scheduler.receive(Self.records(Self.p0, 0..<2)).startLanes
        #expect(started.count == 2)
        var more = Self.scheduler(.partition, concurrency: 1)
        _ = more.assign([Self.p0, Self.p1])
        let first = more.receive(Self.records(Self.p0, 0..<1) + Self.records(Self.p1, 0..<1)).startLanes
        #expect(first.count == 1, "the second partition waits for a slot")
        let chunk = Self.chunk(more.take(for: first[0]))!
        _ = more.finished(chunk.records.map(\.offset), of: first[0].partition, epoch: chunk.epoch)
        _ = more.chunkDone(lane: first[0], epoch: chunk.epoch, unfinished: 0)
        guard case .idle(let next) = more.take(for: first[0]) else { Issue.record("expected idle"); return }
        #expect(next != nil && next != first[0], "the waiting lane gets the slot")
    }

    @Test("commits only move past finished records, even when lanes finish out of order")
    func outOfOrderFinishes() {
        var scheduler = Self.scheduler(.unordered, concurrency: 4, chunk: 1)
        _ = scheduler.assign([Self.p0])
        let lanes = scheduler.receive(Self.records(Self.p0, 0..<4)).startLanes
        let chunks = lanes.map { Self.chunk(scheduler.take(for: $0))! }
        let byOffset = Dictionary(uniqueKeysWithValues: chunks.map { ($0.records.first!.offset, $0) })
        #expect(scheduler.finished([3], of: Self.p0, epoch: byOffset[3]!.epoch).store.isEmpty, "0 is still running")
        #expect(scheduler.finished([1], of: Self.p0, epoch: byOffset[1]!.epoch).store.isEmpty)
        #expect(scheduler.finished([0], of: Self.p0, epoch: byOffset[0]!.epoch).store.map(\.offset) == [2])
        #expect(scheduler.finished([2], of: Self.p0, epoch: byOffset[2]!.epoch).store.map(\.offset) == [4])
    }

    @Test("a partition over its limit pauses alone and resumes at half; the global limit holds intake instead")
    func backpressure() {
        var scheduler = Self.scheduler(concurrency: 4, chunk: 1_000, maxBuffered: 300, perPartition: 100)
        _ = scheduler.assign([Self.p0, Self.p1])
        let first = scheduler.receive(Self.records(Self.p0, 0..<100))
        #expect(first.pause == [Self.p0], "p0 reached its own limit")
        let second = scheduler.receive(Self.records(Self.p1, 0..<99))
        #expect(second.pause.isEmpty, "p1 is below its limit")
        #expect(!scheduler.isFull)
        _ = scheduler.receive(Self.records(Self.p0, 100..<201))
        #expect(scheduler.isFull, "300 held: intake waits")
        #expect(!scheduler.hasRoom)
        let lane = LaneKey(partition: Self.p0, slot: 0)
        var resumed: [KafkaTopicPartition] = []
        while let chunk = Self.chunk(scheduler.take(for: lane)) {
            resumed += scheduler.finished(chunk.records.map(\.offset), of: Self.p0, epoch: chunk.epoch).resume
        }
        #expect(resumed == [Self.p0], "below half of its own limit")
        #expect(scheduler.buffered == 99)
        #expect(scheduler.hasRoom)
    }

    @Test(".unordered: a lane whose record retries hands its other records to other lanes")
    func unorderedHandOff() {
        var scheduler = Self.scheduler(.unordered, concurrency: 3, chunk: 10)
        _ = scheduler.assign([Self.p0])
        let lanes = scheduler.receive(Self.records(Self.p0, 0..<9)).startLanes
        #expect(lanes.count == 3)
        let lane = lanes[0]
        let chunk = Self.chunk(scheduler.take(for: lane))!
        #expect(chunk.records.count == 3)
        let (moved, actions) = scheduler.laneBlocked(lane, epoch: chunk.epoch, remaining: Array(chunk.records.dropFirst()))
        #expect(moved == 2)
        #expect(actions.startLanes.allSatisfy { $0 != lane })
        var others: [Int64] = []
        for other in lanes where other != lane {
            while let next = Self.chunk(scheduler.take(for: other)) { others += next.records.map(\.offset) }
        }
        #expect(Set(others).isSuperset(of: chunk.records.dropFirst().map(\.offset)), "the retry's neighbours run elsewhere")
        var ordered = Self.scheduler(.partition)
        _ = ordered.assign([Self.p0])
        let partitionLane = ordered.receive(Self.records(Self.p0, 0..<3)).startLanes[0]
        let held = Self.chunk(ordered.take(for: partitionLane))!
        #expect(ordered.laneBlocked(partitionLane, epoch: held.epoch, remaining: Array(held.records.dropFirst())).moved == 0,
                ".partition keeps its order: nothing moves")
    }

    @Test("revoke drops queued records, ignores late results of the old epoch, and commits only what finished")
    func revoke() {
        var scheduler = Self.scheduler(chunk: 2)
        _ = scheduler.assign([Self.p0])
        _ = scheduler.receive(Self.records(Self.p0, 0..<6))
        let lane = LaneKey(partition: Self.p0, slot: 0)
        let running = Self.chunk(scheduler.take(for: lane))!
        let (epochs, _) = scheduler.beginRevoke([Self.p0])
        #expect(!scheduler.isCurrent(Self.p0, epoch: running.epoch))
        #expect(!scheduler.isDrained([Self.p0]), "its lane still runs a chunk")
        _ = scheduler.finished([0], of: Self.p0, epoch: running.epoch)
        _ = scheduler.chunkDone(lane: lane, epoch: running.epoch, unfinished: 1)
        guard case .idle = scheduler.take(for: lane) else { Issue.record("a revoked partition handed out a chunk"); return }
        #expect(scheduler.isDrained([Self.p0]))
        #expect(scheduler.completeRevoke(epochs).0 == [KafkaTopicPartitionOffset(Self.p0, offset: 1)])
        #expect(scheduler.buffered == 0)
        // Re-assigned: a new epoch; the old one's late result changes nothing.
        _ = scheduler.assign([Self.p0])
        _ = scheduler.receive(Self.records(Self.p0, 1..<3))
        #expect(scheduler.finished([1, 2], of: Self.p0, epoch: running.epoch).store.isEmpty)
        #expect(scheduler.committableOffsets == [KafkaTopicPartitionOffset(Self.p0, offset: 1)])
        // Records of partitions not assigned are dropped, not queued.
        #expect(scheduler.receive(Self.records(Self.p1, 0..<3)).startLanes.isEmpty)
    }

    @Test("stop hands out no more chunks")
    func stop() {
        var scheduler = Self.scheduler()
        _ = scheduler.assign([Self.p0])
        let lanes = scheduler.receive(Self.records(Self.p0, 0..<3)).startLanes
        _ = scheduler.stop()
        guard case .idle(let next) = scheduler.take(for: lanes[0]) else { Issue.record("expected idle"); return }
        #expect(next == nil)
        #expect(scheduler.committableOffsets == [KafkaTopicPartitionOffset(Self.p0, offset: 0)])
    }
}
