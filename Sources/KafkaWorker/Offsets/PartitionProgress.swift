/// Which offsets of one partition were received and which are finished, and so which offset may be
/// committed: the lowest unfinished one, or the one after the last received when all are finished.
/// A finished offset never moves the commit past an unfinished lower one.
///
/// Offsets are received in ascending order (Kafka's order within a partition, gaps allowed); they may
/// finish in any order.
struct PartitionProgress: Sendable {
    private var offsets: [Int64] = []
    private var finished: [Bool] = []
    /// Bytes of each record (key + value), for the worker's byte limit.
    private var sizes: [Int] = []
    private var head = 0
    /// The highest offset received.
    private(set) var lastReceived: Int64?

    /// Records received and not finished.
    private(set) var unfinished = 0
    /// Bytes of the records received and not finished.
    private(set) var unfinishedBytes = 0

    init() {}

    /// Notes a received record of `size` bytes. Offsets below or equal to the last received are ignored (a re-fetch).
    mutating func received(_ offset: Int64, size: Int = 0) {
        if let lastReceived, offset <= lastReceived { return }
        offsets.append(offset)
        finished.append(false)
        sizes.append(size)
        lastReceived = offset
        unfinished += 1
        unfinishedBytes += size
    }

    /// Marks `offset` finished. Returns its size in bytes, or `nil` if it was not an unfinished received offset.
    @discardableResult
    mutating func finish(_ offset: Int64) -> Int? {
        guard let index = index(of: offset), !finished[index] else { return nil }
        finished[index] = true
        unfinished -= 1
        let size = sizes[index]
        unfinishedBytes -= size
        while head < offsets.count && finished[head] { head += 1 }
        if head > 1_024 && head * 2 > offsets.count {
            offsets.removeFirst(head)
            finished.removeFirst(head)
            sizes.removeFirst(head)
            head = 0
        }
        return size
    }

    /// The finished records above the offset to commit, as ranges of offsets (ascending; offsets between two
    /// received ones, which hold no record, join a range). Lazy: a reader that stops early pays for what it read.
    var finishedRangesAboveCommit: FinishedRanges { FinishedRanges(offsets: offsets, finished: finished, start: head) }

    struct FinishedRanges: Sequence, IteratorProtocol {
        let offsets: [Int64]
        let finished: [Bool]
        var start: Int

        mutating func next() -> ClosedRange<Int64>? {
            while start < offsets.count && !finished[start] { start += 1 }
            guard start < offsets.count else { return nil }
            let low = offsets[start]
            while start + 1 < offsets.count && finished[start + 1] { start += 1 }
            defer { start += 1 }
            return low...offsets[start]
        }
    }

    /// Finished records above the offset to commit (delivered again if the partition restarts from it).
    var finishedAboveCommit: Int { offsets.count - head - unfinished }

    /// The offset to commit (the next to read), or `nil` before anything was received.
    var committableOffset: Int64? {
        head < offsets.count ? offsets[head] : lastReceived.map { $0 + 1 }
    }

    /// Whether `offset` was received and is not finished.
    func isUnfinished(_ offset: Int64) -> Bool {
        index(of: offset).map { !finished[$0] } ?? false
    }

    private func index(of offset: Int64) -> Int? {
        guard head < offsets.count else { return nil }
        // Usually the lowest unfinished record finishes first; and offsets usually have no gaps, so the distance
        // from the lowest one is the index (out-of-order finishes in `.key` and `.unordered`).
        let distance = offset &- offsets[head]
        if distance >= 0 && distance < Int64(offsets.count - head) {
            let guess = head + Int(distance)
            if offsets[guess] == offset { return guess }
        }
        var low = head, high = offsets.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if offsets[mid] == offset { return mid }
            if offsets[mid] < offset { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }
}
