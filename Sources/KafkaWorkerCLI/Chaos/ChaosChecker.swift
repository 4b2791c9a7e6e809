/// The group's committed offsets as a non-member saw them, and when (milliseconds since 1970, taken after the
/// answer came: every commit it reports happened before).
struct ChaosCommitSample: Sendable, Equatable {
    var at: Int64
    var offsets: [Int32: Int64]
}

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
    /// The observer's samples of the committed offsets during the run, and the order id at each position of the
    /// topic (partition → offsets in order): a commit must never be ahead of the work it covers.
    var commitSamples: [ChaosCommitSample] = []
    var positions: [Int32: [ChaosTopics.Position]] = [:]
    /// Origins (`partition/offset`) of the records on the dead-letter topic; `nil` when not read.
    var deadLetterOrigins: Set<String>? = nil
    /// Whether the group committed everything within the drain timeout (liveness).
    var drained = true
    /// Faults that could not be applied, and how many commit samples the run should have at least.
    var faultFailures: [String] = []
    var expectedSamples = 0
    /// Faults the schedule had (a run that had some but applied none proves nothing about them).
    var scheduledFaults = 0
    /// Whether per-key order must hold (`.partition` and `.key`).
    var checksOrder: Bool
    /// Kills, zombies and graceful restarts (reported beside the extra dead-letter copies).
    var disruptions: Int
    /// Every fault applied, of any kind.
    var appliedFaults = 0
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
    /// Samples where the committed offset covered a record whose effect was written only later.
    var commitsAhead: [String] = []
    /// The group did not commit everything within the drain timeout after the faults (liveness).
    var notDrained = false
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
        for effect in evidence.effects { applications[effect.id, default: 0] += 1 }
        if evidence.checksOrder { reordered = Self.orderViolations(evidence) }
        let applied = Set(applications.keys)
        let lettered = Set(evidence.deadLetters)
        // Everything that reached the topic must be finished, acknowledged or not.
        let produced = evidence.acked.union(evidence.onTopic.keys)
        lost = produced.subtracting(applied).subtracting(lettered).sorted()
        duplicated = applications.filter { $0.value > 1 }
        poisonApplied = evidence.poison.intersection(applied).sorted()
        unexpectedDeadLetters = lettered.subtracting(evidence.poison).sorted()
        missingDeadLetters = evidence.poison.intersection(produced).subtracting(lettered).sorted()
        // Every poison record on the topic, each copy, needs a dead letter that names its position.
        if let origins = evidence.deadLetterOrigins {
            for (partition, records) in evidence.positions {
                for record in records where record.id.map(evidence.poison.contains) == true
                    && !origins.contains("\(partition)/\(record.offset)") {
                    missingDeadLetters.append("\(record.id ?? "?") at \(partition)/\(record.offset)")
                }
            }
            missingDeadLetters = Array(Set(missingDeadLetters)).sorted()
        }
        if !evidence.drained { notDrained = true }
        phantom = applied.union(lettered).subtracting(evidence.planned).sorted()
        ackedButMissing = evidence.acked.subtracting(evidence.onTopic.keys).sorted()
        uncommitted = evidence.uncommitted.map { "partition \($0.partition): committed \($0.committed), end \($0.end)" }
        crashes = evidence.unexpectedExits.map(\.description) + evidence.fatalLines
        let poisonCopies = evidence.onTopic.filter { evidence.poison.contains($0.key) }.values.reduce(0, +)
        extraDeadLetterCopies = max(0, evidence.deadLetters.count - poisonCopies)
        // A run that did not do what it says proves nothing: invalid, whatever the counts.
        let unacknowledged = evidence.planned.subtracting(evidence.acked).count
        if !evidence.truncatedPartitions.isEmpty {
            invalidReason = "the broker dropped data (low watermark above 0 on partitions \(evidence.truncatedPartitions))"
        } else if unacknowledged > 0 {
            invalidReason = "\(unacknowledged) orders were never acknowledged by the broker"
        } else if !evidence.faultFailures.isEmpty {
            invalidReason = "faults could not be applied: " + evidence.faultFailures.prefix(3).joined(separator: "; ")
        } else if evidence.scheduledFaults > 0 && evidence.disruptions == 0 && evidence.appliedFaults == 0 {
            invalidReason = "none of the \(evidence.scheduledFaults) scheduled faults was applied"
        } else if evidence.commitSamples.count < evidence.expectedSamples {
            invalidReason = "the observer took \(evidence.commitSamples.count) commit samples, fewer than \(evidence.expectedSamples)"
        }
        brokerFindings = evidence.brokerFindings
        commitsAhead = Self.commitsAhead(evidence, firstApplied: evidence.effects.reduce(into: [:]) { first, effect in
            first[effect.id] = min(first[effect.id] ?? .max, effect.appliedAt)
        })
        self.applied = applied.count
        deadLettered = lettered.count
        producerDuplicates = evidence.onTopic.values.reduce(0) { $0 + max(0, $1 - 1) }
    }

    var passed: Bool {
        invalidReason == nil && lost.isEmpty && duplicated.isEmpty && reordered.isEmpty && poisonApplied.isEmpty
            && unexpectedDeadLetters.isEmpty && missingDeadLetters.isEmpty && phantom.isEmpty && ackedButMissing.isEmpty
            && uncommitted.isEmpty && crashes.isEmpty && commitsAhead.isEmpty && !notDrained
    }

    /// `chaos: lost 0, duplicate 0, reordered 0, …` and the outcome.
    var line: String {
        let counts = [
            "lost \(lost.count)", "duplicate \(duplicated.count)", "reordered \(reordered.count)",
            "poison applied \(poisonApplied.count)", "unexpected dead letters \(unexpectedDeadLetters.count)",
            "missing dead letters \(missingDeadLetters.count)", "phantom \(phantom.count)",
            "acked but not on the topic \(ackedButMissing.count)", "uncommitted partitions \(uncommitted.count)",
            "commits ahead of work \(commitsAhead.count)", "not drained \(notDrained ? 1 : 0)",
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
        add("committed before the work was done", commitsAhead)
        add("crashes and fatal log lines", crashes)
        add("broker findings (not judged)", brokerFindings)
        return lines
    }

    /// Commit safety: at the moment of each sample, every record below the committed offset must be finished. A
    /// record's finish is known from below: no earlier than its order's first effect (a second copy is skipped only
    /// after the first was applied). Poison records and records with no effect (lost, counted apart) are not judged.
    static func commitsAhead(_ evidence: ChaosEvidence, firstApplied: [String: Int64]) -> [String] {
        var found: [String] = []
        for (partition, records) in evidence.positions {
            let records = records.sorted { $0.offset < $1.offset }
            // latest[i]: the latest first-effect time among records[0...i], and which record it was.
            var latest: [(at: Int64, record: ChaosTopics.Position)] = []
            latest.reserveCapacity(records.count)
            for record in records {
                var here = (at: Int64.min, record: record)
                if let id = record.id, !evidence.poison.contains(id), let at = firstApplied[id] { here.at = at }
                latest.append(latest.last.map { $0.at >= here.at ? $0 : here } ?? here)
            }
            for sample in evidence.commitSamples {
                guard let committed = sample.offsets[partition] else { continue }
                // The records below the committed offset: records[0..<covered].
                var low = 0, high = records.count
                while low < high {
                    let mid = (low + high) / 2
                    if records[mid].offset < committed { low = mid + 1 } else { high = mid }
                }
                guard low > 0 else { continue }
                let worst = latest[low - 1]
                if worst.at > sample.at {
                    found.append("partition \(partition) committed \(committed) while offset \(worst.record.offset) "
                                 + "(\(worst.record.id ?? "?")) was applied \(worst.at - sample.at) ms later")
                }
            }
        }
        return found.sorted()
    }

    /// Per-key order, from the chain each effect row carries (the key's previously applied sequence number, read
    /// under the key's row lock): a key's orders must be applied in the order of their first copies on the topic,
    /// each from its first copy (applying only a later copy means the first was skipped). Without the topic read
    /// back (plain values in tests), sequence numbers stand for topic order.
    static func orderViolations(_ evidence: ChaosEvidence) -> [String] {
        var firstCopy: [String: Int64] = [:]
        for records in evidence.positions.values {
            for record in records.sorted(by: { $0.offset < $1.offset }) {
                if let id = record.id, firstCopy[id] == nil { firstCopy[id] = record.offset }
            }
        }
        var idBySeq: [String: [Int: String]] = [:]
        for effect in evidence.effects { idBySeq[effect.key, default: [:]][effect.seq] = effect.id }
        var seen = Set<String>(), found: [String] = []
        // A chain has one start and no forks: two orders of a key naming the same predecessor (or none) were applied
        // side by side, whatever their sequence numbers say.
        var successor: [String: [Int?: String]] = [:]
        for effect in evidence.effects where !seen.contains(effect.id) {
            seen.insert(effect.id)
            if let other = successor[effect.key]?[effect.previousSeq], other != effect.id {
                found.append("key \(effect.key): \(other) and \(effect.id) both applied after "
                             + (effect.previousSeq.map { "seq \($0)" } ?? "nothing (as the key's first)"))
            }
            successor[effect.key, default: [:]][effect.previousSeq] = effect.id
        }
        seen = []
        for effect in evidence.effects where seen.insert(effect.id).inserted {
            if let first = firstCopy[effect.id], effect.offset != first {
                found.append("\(effect.id) applied from its copy at offset \(effect.offset), not from its first copy at \(first)")
            }
            guard let previous = effect.previousSeq else { continue }
            let previousID = idBySeq[effect.key]?[previous]
            let outOfOrder: Bool
            if let previousID, let before = firstCopy[previousID], let after = firstCopy[effect.id] {
                outOfOrder = before > after
            } else {
                outOfOrder = previous >= effect.seq
            }
            if outOfOrder {
                found.append("key \(effect.key): \(effect.id) (seq \(effect.seq)) applied after \(previousID ?? "seq \(previous)")")
            }
        }
        return found
    }
}
