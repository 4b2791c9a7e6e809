@testable import KafkaWorkerCLI
import Testing

/// The chaos checker, the plan and the schedule as plain values: the checker must see each kind of violation
/// (so a chaos PASS means something), and a seed must give the same orders and faults every time.
@Suite("Chaos checker, plan and schedule")
struct ChaosCheckerTests {
    /// Evidence of a clean run: orders 0–9, 3 and 7 poison, 5 produced twice; everything applied once, in order.
    static func cleanEvidence() -> ChaosEvidence {
        let ids = (0..<10).map { "o\($0)" }
        // Keys k0 (even orders) and k1 (odd); each effect names the key's previously applied sequence number.
        var last: [String: Int] = [:]
        let effects = ids.enumerated().filter { ![3, 7].contains($0.offset) }.map { index, id in
            let key = "k\(index % 2)"
            defer { last[key] = index / 2 }
            return ChaosEffect(id: id, key: key, seq: index / 2, previousSeq: last[key], partition: 0, offset: Int64(index))
        }
        var onTopic = Dictionary(uniqueKeysWithValues: ids.map { ($0, 1) })
        onTopic["o5"] = 2
        return ChaosEvidence(planned: Set(ids), poison: ["o3", "o7"], acked: Set(ids), onTopic: onTopic,
                             truncatedPartitions: [], effects: effects, deadLetters: ["o3", "o7"], uncommitted: [],
                             unexpectedExits: [], fatalLines: [], checksOrder: true, disruptions: 0)
    }

    @Test("a clean run passes, and its line says so")
    func clean() {
        let verdict = ChaosVerdict(Self.cleanEvidence())
        #expect(verdict.passed)
        #expect(verdict.line.hasPrefix("chaos: lost 0, duplicate 0, reordered 0,"))
        #expect(verdict.line.hasSuffix("PASS"))
        #expect(verdict.producerDuplicates == 1 && verdict.applied == 8 && verdict.deadLettered == 2)
    }

    @Test("every kind of violation is seen and fails the run")
    func violations() {
        func verdict(_ change: (inout ChaosEvidence) -> Void) -> ChaosVerdict {
            var evidence = Self.cleanEvidence()
            change(&evidence)
            return ChaosVerdict(evidence)
        }
        let lost = verdict { $0.effects.removeAll { $0.id == "o4" } }
        #expect(lost.lost == ["o4"] && !lost.passed)
        let twice = verdict { $0.effects.append(ChaosEffect(id: "o8", key: "k0", seq: 4)) }
        #expect(twice.duplicated == ["o8": 2] && !twice.passed)
        #expect(twice.reordered.isEmpty, "a second application is a duplicate, not a reordering")
        // o2 (k0, seq 1) committed before o0 (k0, seq 0): o0's chain names seq 1 as applied before it.
        let reordered = verdict { $0.effects[0].previousSeq = 1; $0.effects[2].previousSeq = nil }
        #expect(!reordered.reordered.isEmpty && !reordered.passed, "\(reordered.reordered)")
        // Two orders of a key both applied as its first (a fork in the chain): side by side, not in order.
        let fork = verdict { $0.effects[2].previousSeq = nil }
        #expect(fork.reordered.count == 1 && fork.reordered[0].contains("both applied after nothing"), "\(fork.reordered)")
        let unordered = verdict { $0.effects[0].previousSeq = 1; $0.effects[2].previousSeq = nil; $0.checksOrder = false }
        #expect(unordered.passed, "unordered runs do not check order")
        // With the topic read back, topic order decides: the producer re-sent seq 0 after seq 1, so applying seq 1
        // first is right, and applying an order only from its second copy is a skip.
        let resent = verdict { evidence in
            evidence.effects[0].previousSeq = 1; evidence.effects[2].previousSeq = nil
            evidence.effects[0].offset = 5; evidence.effects[2].offset = 1
            evidence.positions = [0: [("o2", 1), ("o0", 5), ("o4", 6)].map { ChaosTopics.Position(id: $0.0, partition: 0, offset: $0.1) }]
            evidence.effects = Array(evidence.effects.prefix(3))
        }
        #expect(resent.reordered.isEmpty, "\(resent.reordered)")
        let skipped = verdict { evidence in
            evidence.positions = [0: (0..<10).map { ChaosTopics.Position(id: "o\($0)", partition: 0, offset: Int64($0)) }
                                  + [ChaosTopics.Position(id: "o5", partition: 0, offset: 10)]]
            evidence.effects[4].offset = 10  // o5 applied from its second copy
        }
        #expect(skipped.reordered.count == 1 && skipped.reordered[0].contains("not from its first copy"), "\(skipped.reordered)")
        let poisonApplied = verdict { $0.effects.append(ChaosEffect(id: "o3", key: "k1", seq: 9)) }
        #expect(poisonApplied.poisonApplied == ["o3"] && !poisonApplied.passed)
        let unexpected = verdict { $0.deadLetters.append("o2") }
        #expect(unexpected.unexpectedDeadLetters == ["o2"] && !unexpected.passed)
        let missing = verdict { $0.deadLetters = ["o3"] }
        #expect(missing.missingDeadLetters == ["o7"] && missing.lost == ["o7"] && !missing.passed)
        let phantom = verdict { $0.effects.append(ChaosEffect(id: "x1", key: "k9", seq: 0)) }
        #expect(phantom.phantom == ["x1"] && !phantom.passed)
        let uncommitted = verdict { $0.uncommitted = [(partition: 2, committed: 10, end: 12)] }
        #expect(uncommitted.uncommitted.count == 1 && !uncommitted.passed)
        let crash = verdict { $0.unexpectedExits = [ChaosExit(name: "w0.1", signal: 11, status: 0, sent: nil)] }
        #expect(crash.crashes.count == 1 && !crash.passed)
        let fatal = verdict { $0.fatalLines = ["w1.2.log: Fatal error: boom"] }
        #expect(!fatal.passed)
        let copies = verdict { $0.deadLetters += ["o3", "o3"] }
        #expect(copies.extraDeadLetterCopies == 2 && copies.passed, "dead letters are at least once: extra copies are counted, not judged")
        let notOnTopic = verdict { $0.onTopic["o1"] = nil }
        #expect(notOnTopic.ackedButMissing == ["o1"] && !notOnTopic.passed)
        let truncated = verdict { $0.truncatedPartitions = [0] }
        #expect(truncated.invalidReason != nil && truncated.line.contains("INVALID"))
    }

    @Test("commit safety: a sampled commit that covers a record applied only later is reported; poison is not judged")
    func commitsAhead() {
        // Partition 0 holds o0…o9 at offsets 0…9 (o5's second copy at 10); o_i was applied at time 100 + 10·i.
        var evidence = Self.cleanEvidence()
        evidence.effects = evidence.effects.map { effect in
            var effect = effect
            effect.appliedAt = 100 + 10 * Int64(effect.id.dropFirst())!
            return effect
        }
        let ids = (0..<10).map { "o\($0)" } + ["o5"]
        evidence.positions = [0: ids.enumerated().map { ChaosTopics.Position(id: $1, partition: 0, offset: Int64($0)) }]
        // Committed 5 at 145: o0…o4 were applied by 140. Safe.
        evidence.commitSamples = [ChaosCommitSample(at: 145, offsets: [0: 5])]
        #expect(ChaosVerdict(evidence).passed)
        // Committed 7 at 155: o6 was applied at 160. Ahead.
        evidence.commitSamples.append(ChaosCommitSample(at: 155, offsets: [0: 7]))
        let ahead = ChaosVerdict(evidence)
        #expect(ahead.commitsAhead.count == 1 && !ahead.passed)
        #expect(ahead.commitsAhead.first?.contains("offset 6 (o6) was applied 5 ms later") == true, "\(ahead.commitsAhead)")
        // Committed 8 at 171: o7 is poison (its finish is the dead letter, not judged here), o6 was applied at 160. Safe.
        evidence.commitSamples = [ChaosCommitSample(at: 171, offsets: [0: 8])]
        #expect(ChaosVerdict(evidence).passed)
        // The second copy of o5 at offset 10: committed 11 at 191, o9 applied at 190. Safe; at 185 it is not.
        evidence.commitSamples = [ChaosCommitSample(at: 191, offsets: [0: 11]), ChaosCommitSample(at: 185, offsets: [0: 11])]
        #expect(ChaosVerdict(evidence).commitsAhead.count == 1)
        // Offsets with a gap map by offset, not by index (order is not what this checks).
        evidence.checksOrder = false
        evidence.positions = [0: ids.enumerated().map { ChaosTopics.Position(id: $1, partition: 0, offset: Int64($0) * 2) }]
        evidence.commitSamples = [ChaosCommitSample(at: 125, offsets: [0: 5])]
        #expect(ChaosVerdict(evidence).passed, "offsets 0, 2, 4 are o0…o2, applied by 120")
    }

    @Test("runs that did not do what they say are INVALID, and a group that did not drain fails")
    func invalidRuns() {
        func verdict(_ change: (inout ChaosEvidence) -> Void) -> ChaosVerdict {
            var evidence = Self.cleanEvidence()
            change(&evidence)
            return ChaosVerdict(evidence)
        }
        let nothing = verdict { $0.acked = []; $0.onTopic = [:]; $0.effects = []; $0.deadLetters = [] }
        #expect(nothing.invalidReason?.contains("never acknowledged") == true && !nothing.passed)
        #expect(nothing.line.contains("INVALID"))
        let failedFault = verdict { $0.faultFailures = ["kill worker 1: not running"] }
        #expect(failedFault.invalidReason?.contains("could not be applied") == true)
        let noFault = verdict { $0.scheduledFaults = 5; $0.appliedFaults = 0 }
        #expect(noFault.invalidReason?.contains("none of the 5") == true)
        let someFaults = verdict { $0.scheduledFaults = 5; $0.appliedFaults = 2 }
        #expect(someFaults.passed)
        let blind = verdict { $0.expectedSamples = 60; $0.commitSamples = [] }
        #expect(blind.invalidReason?.contains("commit samples") == true)
        let stuck = verdict { $0.drained = false }
        #expect(stuck.notDrained && !stuck.passed && stuck.invalidReason == nil)
        // Dead letters by position: each poison copy on the topic needs its own dead letter.
        let byPosition = verdict { evidence in
            evidence.positions = [0: (0..<10).map { ChaosTopics.Position(id: "o\($0)", partition: 0, offset: Int64($0)) }]
            evidence.deadLetterOrigins = ["0/3"]
        }
        #expect(byPosition.missingDeadLetters == ["o7 at 0/7"] && !byPosition.passed, "\(byPosition.missingDeadLetters)")
    }

    @Test("an order produced but never acknowledged still has to be finished")
    func unacknowledgedButOnTheTopic() {
        var evidence = Self.cleanEvidence()
        evidence.acked.remove("o4")
        evidence.effects.removeAll { $0.id == "o4" }
        #expect(ChaosVerdict(evidence).lost == ["o4"])
    }

    @Test("exits: the harness's SIGKILL and a clean exit after SIGTERM are expected, nothing else")
    func exits() {
        #expect(ChaosExit(name: "a", signal: 9, status: 0, sent: 9).expected)
        #expect(ChaosExit(name: "a", signal: nil, status: 0, sent: 15).expected)
        #expect(!ChaosExit(name: "a", signal: nil, status: 3, sent: 15).expected, "a stop that timed out")
        #expect(!ChaosExit(name: "a", signal: 6, status: 0, sent: nil).expected, "a crash")
        #expect(!ChaosExit(name: "a", signal: 9, status: 0, sent: 15).expected, "killed after a stop that hung")
        #expect(ChaosExit(name: "a", signal: 15, status: 0, sent: 15).expected, "SIGTERM before the handler was installed")
        #expect(!ChaosExit(name: "a", signal: nil, status: 0, sent: nil).expected, "an exit nobody asked for")
    }

    @Test("the same seed gives the same orders and faults; another seed does not")
    func deterministic() {
        let settings = ChaosSchedule.Settings(duration: .seconds(60), meanInterval: .seconds(3), kinds: ChaosFaultKind.allCases,
                                              workers: 3, brokers: 3, partitions: 6, sessionTimeout: .seconds(6))
        let a = ChaosSchedule(seed: 7, settings: settings), b = ChaosSchedule(seed: 7, settings: settings)
        let c = ChaosSchedule(seed: 8, settings: settings)
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a.faults.map(\.kind)) == Set(ChaosFaultKind.allCases), "every enabled kind occurs at least once")
        #expect(a.faults.allSatisfy { $0.at < .seconds(60) })
        #expect(zip(a.faults, a.faults.dropFirst()).allSatisfy { $0.at < $1.at })
        for fault in a.faults {
            if case .zombie(_, let stopped) = fault.action { #expect(stopped > .seconds(6), "a zombie outlives its session") }
        }
        let planA = ChaosPlan(run: "r", seed: 7, records: 2_000, keys: 20, partitions: 4, poisonPercent: 1,
                              duplicatePercent: 2, transientPercent: 2)
        let planB = ChaosPlan(run: "r", seed: 7, records: 2_000, keys: 20, partitions: 4, poisonPercent: 1,
                              duplicatePercent: 2, transientPercent: 2)
        let sameEntries = planA.entries == planB.entries, sameRecords = planA.records(topic: "t") == planB.records(topic: "t")
        #expect(sameEntries)
        #expect(sameRecords, "the same records, byte for byte")
    }

    @Test("the plan: per-key sequences, a key on one partition, duplicates later with the same order, poison")
    func plan() throws {
        let plan = ChaosPlan(run: "r", seed: 3, records: 5_000, keys: 50, partitions: 6, poisonPercent: 2,
                             duplicatePercent: 5, transientPercent: 2)
        var next: [String: Int] = [:]
        var partitionOf: [String: Int32] = [:]
        for entry in plan.entries {
            #expect(entry.order.seq == next[entry.order.key, default: 0])
            next[entry.order.key] = entry.order.seq + 1
            #expect(partitionOf[entry.order.key, default: entry.partition] == entry.partition)
            partitionOf[entry.order.key] = entry.partition
            if entry.malformed { #expect(entry.order.poison) }
        }
        let records = plan.records(topic: "t")
        let duplicates = plan.entries.filter { $0.duplicateAfter != nil }.count
        #expect(duplicates > 100 && duplicates < 400)
        #expect(records.count == plan.entries.count + duplicates)
        #expect((50...150).contains(plan.poisonIDs.count))
        #expect(plan.entries.contains { $0.malformed } && plan.entries.contains { $0.order.poison && !$0.malformed })
        // A duplicate comes after its original, on the same partition.
        var seen: [String: Int32] = [:]
        for record in records {
            let id = try #require(ChaosTopics.id(of: record.headers))
            if let first = seen[id] { #expect(first == record.partition) }
            seen[id] = record.partition
        }
        // Transient failures: only first attempts, about the asked share, the same in every process.
        let failing = plan.entries.filter { ChaosPlan.failsTransiently(id: $0.order.id, attempt: 1, seed: 3, percent: 2) }
        #expect((50...150).contains(failing.count))
        #expect(!plan.entries.contains { ChaosPlan.failsTransiently(id: $0.order.id, attempt: 2, seed: 3, percent: 100) })
    }
}
