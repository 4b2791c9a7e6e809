/// What a chaos run left behind, gathered after the group drained and the workers stopped.
struct ChaosEvidence: Sendable {
    /// Every order id the plan has, and the poison ones among them.
    var planned: Set<String>
    var poison: Set<String>
    /// Ids the producer got a delivery report for.
    var acked: Set<String>
    /// Copies of each id on the topic, read back from offset 0 after the run (the ground truth).
    var onTopic: [String: Int]
    /// Partitions whose low watermark is not 0: the broker dropped data, so the run proves nothing.
    var truncatedPartitions: [Int32]
    /// The effects log, in write order.
    var effects: [ChaosEffect]
    /// The order id of every record on the dead-letter topic (a repeat for every copy).
    var deadLetters: [String]
    /// Partitions whose committed offset is not the end offset after the drain: (partition, committed, end).
    var uncommitted: [(partition: Int32, committed: Int64, end: Int64)]
    /// Worker exits the harness did not ask for, or stops that did not end cleanly.
    var unexpectedExits: [ChaosExit]
    /// Log lines of a crash or a critical failure (file: line).
    var fatalLines: [String]
    /// What the broker did wrong (reported, not judged: the run checks the worker).
    var brokerFindings: [String] = []
    /// Whether per-key order must hold (`.partition` and `.key`).
    var checksOrder: Bool
    /// Kills, zombies and graceful restarts (reported beside the extra dead-letter copies).
    var disruptions: Int
}

/// The checker's findings. A run passes when every violation count is 0 and the run is valid.
struct ChaosVerdict: Sendable {
    var lost: [String] = []
    var duplicated: [String: Int] = [:]
    var reordered: [String] = []
    var poisonApplied: [String] = []
    var unexpectedDeadLetters: [String] = []
    var missingDeadLetters: [String] = []
    var phantom: [String] = []
    var ackedButMissing: [String] = []
    var uncommitted: [String] = []
    var crashes: [String] = []
    /// Dead-letter records beyond one per poison record on the topic. Not a violation: dead letters are at least
    /// once (a poison record redelivered before its offset was committed is dead-lettered again), so this counts
    /// redeliveries of poison records — reported, not judged.
    var extraDeadLetterCopies = 0
    var invalidReason: String?
    var brokerFindings: [String] = []
    // Figures for the table.
    var applied = 0
    var deadLettered = 0
    var producerDuplicates = 0

    init(_ evidence: ChaosEvidence) {
        var applications: [String: Int] = [:]
        var lastSeq: [String: Int] = [:]
        for effect in evidence.effects {
            applications[effect.id, default: 0] += 1
            if evidence.checksOrder, applications[effect.id] == 1 {
                if let last = lastSeq[effect.key], effect.seq <= last {
                    reordered.append("\(effect.key): seq \(effect.seq) (\(effect.id)) after \(last)")
                }
                lastSeq[effect.key] = max(lastSeq[effect.key] ?? -1, effect.seq)
            }
        }
        let applied = Set(applications.keys)
        let lettered = Set(evidence.deadLetters)
        // Everything that reached the topic must be finished, acknowledged or not.
        let produced = evidence.acked.union(evidence.onTopic.keys)
        lost = produced.subtracting(applied).subtracting(lettered).sorted()
        duplicated = applications.filter { $0.value > 1 }
        poisonApplied = evidence.poison.intersection(applied).sorted()
        unexpectedDeadLetters = lettered.subtracting(evidence.poison).sorted()
        missingDeadLetters = evidence.poison.intersection(produced).subtracting(lettered).sorted()
        phantom = applied.union(lettered).subtracting(evidence.planned).sorted()
        ackedButMissing = evidence.acked.subtracting(evidence.onTopic.keys).sorted()
        uncommitted = evidence.uncommitted.map { "partition \($0.partition): committed \($0.committed), end \($0.end)" }
        crashes = evidence.unexpectedExits.map(\.description) + evidence.fatalLines
        let poisonCopies = evidence.onTopic.filter { evidence.poison.contains($0.key) }.values.reduce(0, +)
        extraDeadLetterCopies = max(0, evidence.deadLetters.count - poisonCopies)
        if !evidence.truncatedPartitions.isEmpty {
            invalidReason = "the broker dropped data (low watermark above 0 on partitions \(evidence.truncatedPartitions))"
        }
        brokerFindings = evidence.brokerFindings
        self.applied = applied.count
        deadLettered = lettered.count
        producerDuplicates = evidence.onTopic.values.reduce(0) { $0 + max(0, $1 - 1) }
    }

    var passed: Bool {
        invalidReason == nil && lost.isEmpty && duplicated.isEmpty && reordered.isEmpty && poisonApplied.isEmpty
            && unexpectedDeadLetters.isEmpty && missingDeadLetters.isEmpty && phantom.isEmpty && ackedButMissing.isEmpty
            && uncommitted.isEmpty && crashes.isEmpty
    }

    /// `chaos: lost 0, duplicate 0, reordered 0, …` and the outcome.
    var line: String {
        let counts = [
            "lost \(lost.count)", "duplicate \(duplicated.count)", "reordered \(reordered.count)",
            "poison applied \(poisonApplied.count)", "unexpected dead letters \(unexpectedDeadLetters.count)",
            "missing dead letters \(missingDeadLetters.count)", "phantom \(phantom.count)",
            "acked but not on the topic \(ackedButMissing.count)", "uncommitted partitions \(uncommitted.count)",
            "crashes \(crashes.count)",
        ]
        let outcome = invalidReason.map { "INVALID (\($0))" } ?? (passed ? "PASS" : "FAIL")
        return "chaos: " + counts.joined(separator: ", ") + " — " + outcome
    }

    /// Up to `limit` examples of each violation, one per line.
    func details(limit: Int = 10) -> [String] {
        var lines: [String] = []
        func add(_ title: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines.append("  \(title) (\(items.count)): " + items.prefix(limit).joined(separator: "; ")
                         + (items.count > limit ? "; …" : ""))
        }
        add("lost", lost)
        add("applied more than once", duplicated.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" })
        add("out of order", reordered)
        add("poison applied", poisonApplied)
        add("dead-lettered but not poison", unexpectedDeadLetters)
        add("poison never dead-lettered", missingDeadLetters)
        add("applied or dead-lettered but never produced", phantom)
        add("acknowledged but not on the topic", ackedButMissing)
        add("not committed to the end", uncommitted)
        add("crashes and fatal log lines", crashes)
        add("broker findings (not judged)", brokerFindings)
        return lines
    }
}
