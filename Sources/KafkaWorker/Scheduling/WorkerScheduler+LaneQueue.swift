import DequeModule
import KafkaClient

extension WorkerScheduler {
    /// A lane's queued records: slices of fetched batches as they came, so queueing copies no record.
    struct LaneQueue: Sendable {
        private var slices = Deque<ArraySlice<KafkaRecord>>()
        private(set) var count = 0

        mutating func append(_ slice: ArraySlice<KafkaRecord>) {
            guard !slice.isEmpty else { return }
            slices.append(slice)
            count += slice.count
        }

        /// The next records, at most `limit`. A long first slice is handed out as it is; short ones (a batch
        /// spread over many lanes) are joined, so a lane does not pay a chunk's bookkeeping for every few records.
        mutating func take(upTo limit: Int) -> ArraySlice<KafkaRecord>? {
            guard let first = slices.popFirst() else { return nil }
            if first.count > limit {
                slices.prepend(first.dropFirst(limit))
                count -= limit
                return first.prefix(limit)
            }
            guard first.count < Self.joinBelow, let second = slices.first, first.count + second.count <= limit else {
                count -= first.count
                return first
            }
            var joined = Array(first)
            while let next = slices.first, joined.count + next.count <= limit {
                joined.append(contentsOf: next)
                slices.removeFirst()
            }
            count -= joined.count
            return joined[...]
        }

        /// Puts records back at the front (a lane's chunk it did not run while its partition drains).
        mutating func prepend(_ slice: ArraySlice<KafkaRecord>) {
            guard !slice.isEmpty else { return }
            slices.prepend(slice)
            count += slice.count
        }

        /// Like ``take(upTo:)``, but only records below `bound` (a drain: the records a partition's highest finished
        /// one passed). `nil` when the first queued record is not below it; the rest stays queued.
        mutating func take(upTo limit: Int, below bound: Int64) -> ArraySlice<KafkaRecord>? {
            guard let first = slices.first?.first, first.offset < bound, let taken = take(upTo: limit) else { return nil }
            guard let cut = taken.firstIndex(where: { $0.offset >= bound }) else { return taken }
            slices.prepend(taken[cut...])
            count += taken.endIndex - cut
            return taken[..<cut]
        }

        /// The first queued record's offset.
        var firstOffset: Int64? { slices.first?.first?.offset }

        /// Slices shorter than this are joined with the ones after them.
        static let joinBelow = 64

        /// Every record queued, in order.
        var records: [KafkaRecord] { slices.flatMap { $0 } }
    }
}
