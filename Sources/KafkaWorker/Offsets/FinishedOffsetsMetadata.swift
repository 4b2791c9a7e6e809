/// The finished offsets above a partition's commit, written into the commit's metadata so that the next owner
/// (this worker after a crash, a stop past its grace period; another after a revoke) skips them instead of running
/// them again. Any peer of ours that commits plain offsets leaves none: it just redelivers as usual.
///
/// Text, `kw1:` then ranges of absolute offsets, ascending: the first as `start+extra`, each next one as
/// `gap+extra` from the end of the one before (`start`, `gap`, `extra` in base 36; a range covers `extra + 1`
/// offsets). Offsets inside a range that hold no record (compaction, transaction markers) do no harm.
/// What does not fit the byte budget is left out, highest ranges first: the skip is only ever an optimisation,
/// what is not listed is delivered again (at least once, as without metadata) — never a stall, never a loss.
enum FinishedOffsetsMetadata {
    static let prefix = "kw1:"

    /// The metadata for `ranges` (ascending, disjoint), at most `maxBytes` long; `nil` when no range fits.
    static func encode(_ ranges: some Sequence<ClosedRange<Int64>>, maxBytes: Int) -> String? {
        var text = prefix
        var previousEnd: Int64?
        for range in ranges {
            let lead = previousEnd.map { range.lowerBound - $0 - 1 } ?? range.lowerBound
            guard lead >= 0 else { return nil }
            let item = (previousEnd == nil ? "" : ",") + String(lead, radix: 36) + "+"
                + String(range.upperBound - range.lowerBound, radix: 36)
            guard text.utf8.count + item.utf8.count <= maxBytes else { break }
            text += item
            previousEnd = range.upperBound
        }
        return previousEnd == nil ? nil : text
    }

    /// The ranges in `metadata`, or `nil` when it is not ours or malformed (it is then ignored).
    static func decode(_ metadata: String) -> [ClosedRange<Int64>]? {
        guard metadata.hasPrefix(prefix) else { return nil }
        var ranges: [ClosedRange<Int64>] = []
        var previousEnd: Int64?
        for item in metadata.dropFirst(prefix.count).split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "+", omittingEmptySubsequences: false)
            guard parts.count == 2, let lead = Int64(parts[0], radix: 36), let extra = Int64(parts[1], radix: 36),
                  lead >= 0, extra >= 0 else { return nil }
            let (start, overflow) = (previousEnd.map { $0 + 1 } ?? 0).addingReportingOverflow(lead)
            guard !overflow, start <= Int64.max - extra else { return nil }
            ranges.append(start...(start + extra))
            previousEnd = start + extra
        }
        return ranges.isEmpty ? nil : ranges
    }
}
