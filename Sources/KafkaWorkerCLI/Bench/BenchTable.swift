/// The benchmark's output: one row per contender with its ratio to the baseline, then the headline ratio.
struct BenchTable {
    private var rows: [(String, BenchResult)] = []

    mutating func add(_ name: String, _ result: BenchResult) { rows.append((name, result)) }

    func lines(baseline: String, headline: String, baselineLabel: String = "bare") -> [String] {
        let base = rows.first { $0.0 == baseline }?.1.recordsPerSecond ?? 0
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        func padLeft(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        func ratio(_ rate: Double) -> String { base > 0 ? String(format2(rate / base)) : "n/a" }
        var lines = [pad("contender", 28) + padLeft("records", 10) + padLeft("seconds", 10) + padLeft("records/s", 12)
            + padLeft("vs \(baselineLabel)", 4 + max(5, baselineLabel.count))]
        for (name, result) in rows {
            lines.append(pad(name, 28) + padLeft(String(result.records), 10) + padLeft(format2(result.elapsed.seconds), 10)
                + padLeft(String(Int(result.recordsPerSecond)), 12) + padLeft(ratio(result.recordsPerSecond), 4 + max(5, baselineLabel.count)))
        }
        let head = rows.first { $0.0 == headline }?.1.recordsPerSecond ?? 0
        lines.append("\(headline)/\(baselineLabel): \(ratio(head))")
        return lines
    }
}

/// Two decimals, without Foundation's formatting.
func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths % 100)
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}
