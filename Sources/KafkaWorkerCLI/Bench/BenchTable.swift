/// The benchmark's output: one row per contender — its best round, the median of its rounds, the best's ratio
/// to the baseline's best and the highest resident-set peak of its rounds — then the headline ratio per round, and last the headline ratio of the bests.
struct BenchTable {
    private var rows: [(name: String, rounds: [BenchResult])] = []

    mutating func add(_ name: String, _ result: BenchResult) { rows.append((name, [result])) }

    /// A contender run several times (rounds in the order they ran).
    mutating func add(_ name: String, rounds: [BenchResult]) { rows.append((name, rounds)) }

    func lines(baseline: String, headline: String, baselineLabel: String = "bare") -> [String] {
        func best(_ name: String) -> Double { rate(of: name).max() ?? 0 }
        let base = best(baseline)
        func ratio(_ rate: Double, to base: Double) -> String { base > 0 ? format2(rate / base) : "n/a" }
        let pad = Self.pad, padLeft = Self.padLeft
        let ratioWidth = 4 + max(5, baselineLabel.count)
        let nameWidth = max(28, (rows.map(\.name.count).max() ?? 0) + 2)
        var lines = [pad("contender", nameWidth) + padLeft("records", 10) + padLeft("seconds", 10) + padLeft("records/s", 12)
            + padLeft("median/s", 12) + padLeft("vs \(baselineLabel)", ratioWidth) + padLeft("peak MiB", 10)]
        for row in rows {
            let top = row.rounds.max { $0.recordsPerSecond < $1.recordsPerSecond }!
            lines.append(pad(row.name, nameWidth) + padLeft(String(top.records), 10) + padLeft(format2(top.elapsed.seconds), 10)
                + padLeft(String(Int(top.recordsPerSecond)), 12) + padLeft(String(Int(median(rate(of: row.name)))), 12)
                + padLeft(ratio(top.recordsPerSecond, to: base), ratioWidth)
                + padLeft(String(row.rounds.map(\.peakBytes).max()! >> 20), 10))
        }
        let headRounds = rate(of: headline), baseRounds = rate(of: baseline)
        if headRounds.count > 1 && headRounds.count == baseRounds.count {
            let perRound = zip(headRounds, baseRounds).map { $1 > 0 ? $0 / $1 : 0 }
            lines.append("\(headline)/\(baselineLabel) by round: " + perRound.map(format2).joined(separator: " ")
                + " (median \(format2(median(perRound))))")
        }
        lines.append("\(headline)/\(baselineLabel): \(ratio(best(headline), to: base))")
        return lines
    }

    static func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
    static func padLeft(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

    private func rate(of name: String) -> [Double] {
        rows.first { $0.name == name }?.rounds.map(\.recordsPerSecond) ?? []
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Two decimals, without Foundation's formatting.
func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths % 100)
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
