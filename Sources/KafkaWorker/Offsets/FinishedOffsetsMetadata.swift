/// The finished offsets above a partition's commit, written into the commit's metadata so that the next owner
/// (this worker after a crash, a stop past its grace period; another after a revoke) skips them instead of running
/// them again. Any peer of ours that commits plain offsets leaves none: it just redelivers as usual.
///
/// Text: `kw1:`, the committed offset the list belongs to, `:`, then ranges of absolute offsets, ascending: the first
/// as `gap+extra` from the committed offset, each next one from the end of the one before (`gap`, `extra` in base 36;
/// a range covers `extra + 1` offsets). Metadata whose offset is not the committed one (an administrator moved the
/// offset and kept the text) is ignored, and so is any that is malformed or reaches further than ``maxSpan`` above
/// it. Offsets inside a range that hold no record (compaction, transaction markers) do no harm.
/// What does not fit the byte budget is left out, highest ranges first: the skip is only ever an optimisation,
/// what is not listed is delivered again (at least once, as without metadata) — never a stall, never a loss.
enum FinishedOffsetsMetadata {
    static let prefix = "kw1:"
    /// How far above the committed offset a listed range may reach (a worker holds far fewer records).
    static let maxSpan: Int64 = 100_000_000

    /// The metadata for a commit at `committed` of `ranges` then `more` (together ascending, disjoint, above
    /// `committed`), at most `maxBytes` long; `nil` when no range fits.
    static func encode(committed: Int64, _ ranges: some Sequence<ClosedRange<Int64>>,
                       then more: some Sequence<ClosedRange<Int64>> = EmptyCollection(), maxBytes: Int) -> String? {
        var text = prefix + String(committed, radix: 36) + ":"
        var previousEnd = committed - 1
        var listed = false
        func add(_ range: ClosedRange<Int64>) -> Bool {
            let gap = range.lowerBound - previousEnd - 1
            guard gap >= 0, range.upperBound - committed < maxSpan else { return false }
            let item = (listed ? "," : "") + String(gap, radix: 36) + "+" + String(range.upperBound - range.lowerBound, radix: 36)
            guard text.utf8.count + item.utf8.count <= maxBytes else { return false }
            text += item
            previousEnd = range.upperBound
            listed = true
            return true
        }
        var full = false
        for range in ranges where !full { full = !add(range) }
        for range in more where !full { full = !add(range) }
        return listed ? text : nil
    }

    /// The ranges `metadata` lists above `committed`, or `nil` when it is not ours, belongs to another offset, or is
    /// malformed (it is then ignored).
    static func decode(_ metadata: String, committed: Int64) -> [ClosedRange<Int64>]? {
        guard committed >= 0, metadata.hasPrefix(prefix) else { return nil }
        let parts = metadata.dropFirst(prefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, Int64(parts[0], radix: 36) == committed else { return nil }
        var ranges: [ClosedRange<Int64>] = []
        var previousEnd = committed - 1
        let limit = committed.addingReportingOverflow(maxSpan)
        guard !limit.overflow else { return nil }
        for item in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let numbers = item.split(separator: "+", omittingEmptySubsequences: false)
            guard numbers.count == 2, let gap = Int64(numbers[0], radix: 36), let extra = Int64(numbers[1], radix: 36),
                  gap >= 0, extra >= 0, gap < maxSpan, extra < maxSpan else { return nil }
            let start = previousEnd + 1 + gap
            let end = start + extra
            guard end < limit.partialValue else { return nil }
            ranges.append(start...end)
            previousEnd = end
        }
        return ranges.isEmpty ? nil : ranges
    }
}
