import KafkaClient
@testable import KafkaWorker
import KafkaWorkerTesting
import Testing

/// Random operation sequences against the scheduler value and a reference model, checked after every step:
/// the stored offset never passes an unfinished record, the intake is parked exactly when the model says and
/// never while there is room, pauses follow the per-partition limit, `buffered` and `inFlight` equal the records
/// held and run; at the end every record held is finished and committable (nothing stalls). A failing sequence is
/// shrunk before it is reported.
@Suite("Scheduler against a reference model (random operation sequences)")
struct WorkerSchedulerModelTests {
    @Test("2,000 seeds × 300 operations: every invariant after every step", arguments: 0..<20)
    func randomSequences(block: Int) {
        for seed in UInt64(block * 100)..<UInt64(block * 100 + 100) {
            let operations = SchedulerModel.operations(seed: seed, count: 300)
            guard let failure = SchedulerModel.run(seed: seed, operations) else { continue }
            let (shrunk, message) = SchedulerModel.shrink(seed: seed, operations, failure: failure)
            Issue.record("seed \(seed): \(message)\nshrunk to \(shrunk.count) operations: \(shrunk)")
            return
        }
    }

    @Test("the checker bites: a scheduler that forgets to wake the intake after a revoke is caught")
    func checkerCatchesAStall() {
        // A sequence a careful reader can follow: fill up, revoke everything, nothing else — the intake must be woken.
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 1, chunkSize: 5,
                                                      maxBuffered: 10, maxBufferedPerPartition: 100))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1)
        _ = scheduler.receive((0..<10).map { KafkaRecord(topic: "t", partition: 0, offset: $0) }, generation: 1)
        #expect(scheduler.intakeParked)
        let (epochs, _) = scheduler.beginRevoke([p])
        let (_, actions) = scheduler.completeRevoke(epochs)
        #expect(actions.wakeIntake, "a bulk revoke that makes room wakes the parked intake")
        #expect(!scheduler.intakeParked && scheduler.buffered == 0)
    }

    @Test("a flush that ends exactly at half the limit wakes the intake; one that stays above does not")
    func flushAtTheLimit() {
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 1, chunkSize: 10,
                                                      maxBuffered: 10, maxBufferedPerPartition: 100))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1)
        let lanes = scheduler.receive((0..<10).map { KafkaRecord(topic: "t", partition: 0, offset: $0) }, generation: 1).startLanes
        #expect(scheduler.intakeParked)
        guard case .chunk(let chunk) = scheduler.take(for: lanes[0]) else { Issue.record("no chunk"); return }
        #expect(!scheduler.finished([0, 1, 2, 3], of: p, epoch: chunk.epoch).wakeIntake, "6 held: above half of 10")
        #expect(scheduler.finished([4], of: p, epoch: chunk.epoch).wakeIntake, "5 held: exactly half")
        #expect(!scheduler.finished([5], of: p, epoch: chunk.epoch).wakeIntake, "woken once")
    }

    @Test("records polled before their partition's assignment are dropped; later ones are kept")
    func staleGenerationsDropped() {
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 2, chunkSize: 10,
                                                      maxBuffered: 100, maxBufferedPerPartition: 100))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 5)
        #expect(scheduler.receive([KafkaRecord(topic: "t", partition: 0, offset: 3)], generation: 4).startLanes.isEmpty)
        #expect(scheduler.buffered == 0)
        #expect(!scheduler.receive([KafkaRecord(topic: "t", partition: 0, offset: 7)], generation: 6).startLanes.isEmpty)
        #expect(scheduler.committableOffsets == [KafkaTopicPartitionOffset(p, offset: 7)])
    }
}

/// The reference model and the driver: a simulation of the worker's intake, lanes and rebalances.
enum SchedulerModel {
    struct Operation: CustomStringConvertible {
        enum Kind: CaseIterable { case receive, take, finish, chunkDone, beginRevoke, completeRevoke, lose, assign, block, stop }
        var kind: Kind
        var a: UInt64, b: UInt64, c: UInt64
        var description: String { "\(kind)(\(a % 97),\(b % 97),\(c % 97))" }
    }

    static func operations(seed: UInt64, count: Int) -> [Operation] {
        var rng = SplitMix(seed: seed)
        // Weighted: most steps move records; rebalances and stops are rarer.
        let weights: [(Operation.Kind, UInt64)] = [(.receive, 20), (.take, 20), (.finish, 30), (.chunkDone, 12),
                                                   (.beginRevoke, 3), (.completeRevoke, 4), (.lose, 1), (.assign, 5),
                                                   (.block, 3), (.stop, 1)]
        let total = weights.reduce(0) { $0 + $1.1 }
        return (0..<count).map { _ in
            var pick = rng.next() % total
            var kind = Operation.Kind.receive
            for (candidate, weight) in weights {
                if pick < weight { kind = candidate; break }
                pick -= weight
            }
            return Operation(kind: kind, a: rng.next(), b: rng.next(), c: rng.next())
        }
    }

    /// Removes operations while the sequence still fails; returns the shortest found and its failure.
    static func shrink(seed: UInt64, _ operations: [Operation], failure: String) -> ([Operation], String) {
        var current = operations
        var message = failure
        var size = max(1, current.count / 2)
        while size >= 1 {
            var start = 0
            var removed = false
            while start < current.count {
                var candidate = current
                candidate.removeSubrange(start..<min(start + size, candidate.count))
                if let failure = run(seed: seed, candidate) {
                    current = candidate
                    message = failure
                    removed = true
                } else {
                    start += size
                }
            }
            if !removed { size /= 2 }
        }
        return (current, message)
    }

    /// One partition's model for its current assignment.
    struct PartitionModel {
        var epoch: Int?
        var generation: Int
        var revoking = false
        var received: [Int64] = []
        var finished: Set<Int64> = []
        var sizes: [Int64: Int] = [:]
        var unfinishedBytes: Int { received.reduce(0) { finished.contains($1) ? $0 : $0 + sizes[$1]! } }
        var lastStored: Int64?
        var nextFetch: Int64
        var unfinished: Int { received.count - finished.count }
        var committable: Int64? {
            received.first { !finished.contains($0) } ?? received.last.map { $0 + 1 }
        }
    }

    /// A lane task: the lane it runs, and its chunk if it holds one.
    struct LaneTask {
        var lane: LaneKey
        var chunk: [KafkaRecord] = []
        var epoch = 0
        var done = 0
        var unreported: [Int64] = []
        var holding = false
        var handedOff = false
        /// The record that was running when a stop or revoke began: it finishes whatever the drain allows.
        var pass: Int64?
    }

    /// Runs `operations` and returns the first broken invariant, if any.
    static func run(seed: UInt64, _ operations: [Operation]) -> String? {
        var rng = SplitMix(seed: seed ^ 0x5DEE_CE66)
        let orderings: [OrderingMode] = [.partition, .key, .unordered]
        let limits = WorkerScheduler.Limits(
            ordering: orderings[Int(rng.next() % 3)], maxConcurrency: 1 + Int(rng.next() % 4),
            chunkSize: 1 + Int(rng.next() % 8), maxBuffered: 1 + Int(rng.next() % 40),
            maxBufferedPerPartition: 1 + Int(rng.next() % 30), maxBufferedBytes: 1 + Int(rng.next() % 4_000))
        var driver = Driver(limits: limits)
        for (step, operation) in operations.enumerated() {
            if let failure = driver.apply(operation) ?? driver.check() { return "step \(step) \(operation) [\(limits)]: \(failure)" }
        }
        if let failure = driver.drainAndCheck() { return "after draining [\(limits)]: \(failure)" }
        return nil
    }
}

@Suite("Scheduler byte limits (plain values)")
struct WorkerSchedulerBytesTests {
    @Test("1 MiB records: intake parks at the byte limit and goes on at half of it; a revoke gives the bytes back")
    func bytesLimitIntake() {
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 2, chunkSize: 10, maxBuffered: 50_000,
                                                      maxBufferedPerPartition: 20_000, maxBufferedBytes: 4 << 20))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1)
        let mib = KafkaBytes([UInt8](repeating: 1, count: 1 << 20))
        let records = (0..<4).map { KafkaRecord(topic: "t", partition: 0, offset: Int64($0), value: mib) }
        let lanes = scheduler.receive(Array(records.prefix(3)), generation: 1).startLanes
        #expect(!scheduler.intakeParked && scheduler.bufferedBytes == 3 << 20)
        _ = scheduler.receive([records[3]], generation: 1)
        #expect(scheduler.intakeParked, "4 MiB held")
        guard case .chunk(let chunk) = scheduler.take(for: lanes[0]) else { Issue.record("no chunk"); return }
        #expect(!scheduler.finished([0], of: p, epoch: chunk.epoch).wakeIntake, "3 MiB: above half")
        #expect(scheduler.finished([1], of: p, epoch: chunk.epoch).wakeIntake, "2 MiB: half")
        let (epochs, _) = scheduler.beginRevoke([p])
        _ = scheduler.completeRevoke(epochs)
        #expect(scheduler.bufferedBytes == 0 && scheduler.buffered == 0)
    }
}

extension WorkerSchedulerBytesTests {
    @Test("a stuck partition is paused at a quarter of the byte limit, so it cannot keep the worker full for the others")
    func stuckPartitionCannotHoldTheWorkerFull() {
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 4, chunkSize: 100, maxBuffered: 50_000,
                                                      maxBufferedPerPartition: 20_000, maxBufferedBytes: 4 << 20))
        let stuck = KafkaTopicPartition(topic: "t", partition: 0), healthy = KafkaTopicPartition(topic: "t", partition: 1)
        _ = scheduler.assign([stuck, healthy], generation: 1)
        let value = KafkaBytes([UInt8](repeating: 1, count: 100 << 10))
        func records(_ partition: Int32, _ offsets: Range<Int64>) -> [KafkaRecord] {
            offsets.map { KafkaRecord(topic: "t", partition: partition, offset: $0, value: value) }
        }
        // The stuck partition's head never finishes; it keeps being fetched until its own limit pauses it.
        var paused = false
        var next: Int64 = 0
        while !paused && next < 200 {
            paused = scheduler.receive(records(0, next..<next + 1), generation: 1).pause.contains(stuck)
            next += 1
        }
        #expect(paused && scheduler.bufferedBytes <= (1 << 20) + (100 << 10), "paused at a quarter of 4 MiB")
        // The healthy partition fills the worker, then drains completely: intake must be let go.
        let lanes = scheduler.receive(records(1, 0..<40), generation: 1).startLanes
        #expect(scheduler.intakeParked)
        guard let lane = lanes.first(where: { $0.partition == healthy }), case .chunk(let chunk) = scheduler.take(for: lane) else {
            Issue.record("no chunk for the healthy partition"); return
        }
        #expect(scheduler.finished(chunk.records.map(\.offset), of: healthy, epoch: chunk.epoch).wakeIntake)
    }
}
