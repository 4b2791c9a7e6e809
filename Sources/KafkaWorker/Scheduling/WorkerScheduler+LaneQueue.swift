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

        /// Slices shorter than this are joined with the ones after them.
        static let joinBelow = 64

        /// Every record queued, in order.
        var records: [KafkaRecord] { slices.flatMap { $0 } }
    }
}
