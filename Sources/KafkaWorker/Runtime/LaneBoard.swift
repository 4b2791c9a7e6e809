import Dispatch
import KafkaClient
import Synchronization

/// What each running lane is doing: which record since when (for the watchdog: two atomics per record), and
/// which records it finished that are not yet handed to the scheduler (so a stop or revoke can flush them
/// even while the lane is stuck in a slow record).
final class LaneBoard: Sendable {
    /// Finished records not yet reported to the scheduler, all of one partition assignment (epoch).
    struct Pending: Sendable {
        var partition: KafkaTopicPartition?
        var epoch = 0
        var offsets: [Int64] = []
        var handled = 0
    }

    final class Slot: Sendable {
        /// Monotonic nanoseconds when the current record started; 0 when idle.
        let started = Atomic<UInt64>(0)
        let offset = Atomic<Int64>(0)
        /// The `started` value already reported, so a hung record is reported once.
        let reported = Atomic<UInt64>(0)
        let partition = Mutex<KafkaTopicPartition?>(nil)

        /// Notes that the record at `offset` starts now (`now`: monotonic nanoseconds).
        @inline(__always) func begin(_ offset: Int64, now: UInt64 = DispatchTime.now().uptimeNanoseconds) -> UInt64 {
            self.offset.store(offset, ordering: .relaxed)
            started.store(now, ordering: .releasing)
            return now
        }

        @inline(__always) func end() { started.store(0, ordering: .releasing) }

        let pending = Mutex(Pending())

        /// Notes a finished record.
        @inline(__always) func finished(_ offset: Int64, handled: Bool) -> Int {
            pending.withLock { pending in
                pending.offsets.append(offset)
                if handled { pending.handled += 1 }
                return pending.offsets.count
            }
        }

        /// Takes the finished records noted so far, and starts noting for `partition`/`epoch` if given.
        func takePending(next: (KafkaTopicPartition, Int)? = nil) -> Pending {
            pending.withLock { pending in
                let taken = pending
                pending.offsets.removeAll(keepingCapacity: true)
                pending.handled = 0
                if let (partition, epoch) = next {
                    pending.partition = partition
                    pending.epoch = epoch
                }
                return taken
            }
        }
    }

    private struct Slots {
        var all: [Slot] = []
        var free: [Slot] = []
    }

    private let slots: Mutex<Slots>

    init(capacity: Int) {
        let made = (0..<capacity).map { _ in Slot() }
        slots = Mutex(Slots(all: made, free: made))
    }

    /// A slot for a lane task. About `maxConcurrency` exist; one more is made when a new lane task starts
    /// before a finishing one has given its slot back.
    func acquire() -> Slot {
        slots.withLock { slots in
            if let slot = slots.free.popLast() { return slot }
            let slot = Slot()
            slots.all.append(slot)
            return slot
        }
    }

    func release(_ slot: Slot) {
        slot.end()
        slots.withLock { $0.free.append(slot) }
    }

    var all: [Slot] { slots.withLock { $0.all } }

    /// Records running longer than `deadline` that were not reported yet; marks them reported.
    func overdue(deadline: Duration) -> [KafkaTopicPartitionOffset] {
        let now = DispatchTime.now().uptimeNanoseconds
        let limit = UInt64(max(0, deadline.wholeMilliseconds)) * 1_000_000
        var result: [KafkaTopicPartitionOffset] = []
        for slot in all {
            let started = slot.started.load(ordering: .acquiring)
            guard started != 0, now > started, now - started > limit,
                  slot.reported.load(ordering: .relaxed) != started,
                  let partition = slot.partition.withLock({ $0 })
            else { continue }
            slot.reported.store(started, ordering: .relaxed)
            result.append(KafkaTopicPartitionOffset(partition, offset: slot.offset.load(ordering: .relaxed)))
        }
        return result
    }
}
