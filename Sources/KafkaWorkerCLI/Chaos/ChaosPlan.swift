import Foundation
import KafkaClient
import KafkaWorkerTesting

/// One order of a chaos run, as JSON in the record's value. `seq` counts the orders of one key, in produce order.
struct ChaosOrder: Codable, Sendable, Equatable {
    var id: String
    var key: String
    var seq: Int
    /// A business rule rejects it: the handler throws a non-retriable error, so it must be dead-lettered.
    var poison: Bool
}

/// What a chaos run produces, decided by the seed: every order, which are poison (half of them malformed JSON
/// that cannot be decoded), which are produced a second time at a later offset, and which fail their first
/// attempt with a transient error.
struct ChaosPlan: Sendable {
    /// The header every record carries its order id in (dead letters keep it, malformed records have it too).
    static let idHeader = "chaos-id"

    struct Entry: Sendable, Equatable {
        var order: ChaosOrder
        var partition: Int32
        /// The value cannot be decoded (a malformed record); such an order is also poison.
        var malformed: Bool
        /// A second copy (same id, key and sequence) goes out this many records later.
        var duplicateAfter: Int?
    }

    /// Names this run's topic, group and tables; the orders themselves depend on the seed alone (markers are kept
    /// per group, so another run of the same seed in the same database starts clean).
    let run: String
    let entries: [Entry]
    let seed: UInt64
    let transientPercent: Double

    init(run: String, seed: UInt64, records: Int, keys: Int, partitions: Int, poisonPercent: Double,
         duplicatePercent: Double, transientPercent: Double) {
        var rng = SplitMix(seed: seed ^ 0x00C0_FFEE)
        var perKey = [Int](repeating: 0, count: keys)
        var entries: [Entry] = []
        entries.reserveCapacity(records)
        for index in 0..<records {
            let key = Int(rng.next() % UInt64(keys))
            defer { perKey[key] += 1 }
            let poison = Self.chance(&rng, poisonPercent)
            let malformed = poison && rng.next() % 2 == 0
            let duplicate = Self.chance(&rng, duplicatePercent) ? Int(50 + rng.next() % 450) : nil
            // A key's orders stay on one partition, so their order can be checked in every ordering mode but unordered.
            entries.append(Entry(order: ChaosOrder(id: "s\(seed)-\(index)", key: "k\(key)", seq: perKey[key], poison: poison),
                                 partition: Int32(key % partitions), malformed: malformed, duplicateAfter: duplicate))
        }
        self.run = run
        self.entries = entries
        self.seed = seed
        self.transientPercent = transientPercent
    }

    private static func chance(_ rng: inout SplitMix, _ percent: Double) -> Bool {
        Double(rng.next() % 1_000_000) < percent * 10_000
    }

    var poisonIDs: Set<String> { Set(entries.filter(\.order.poison).map(\.order.id)) }

    /// The records in produce order: every order, and each duplicate copy `duplicateAfter` records after its original.
    func records(topic: String) -> [KafkaProducerRecord] {
        var copies: [Int: [Entry]] = [:]
        var out: [KafkaProducerRecord] = []
        out.reserveCapacity(entries.count * 11 / 10)
        for (index, entry) in entries.enumerated() {
            out.append(Self.record(entry, topic: topic))
            if let after = entry.duplicateAfter { copies[index + after, default: []].append(entry) }
            for copy in copies.removeValue(forKey: index) ?? [] { out.append(Self.record(copy, topic: topic)) }
        }
        for index in copies.keys.sorted() { for copy in copies[index]! { out.append(Self.record(copy, topic: topic)) } }
        return out
    }

    static func record(_ entry: Entry, topic: String) -> KafkaProducerRecord {
        // Sorted keys: the same order gives the same bytes in every run (a seed replays byte for byte).
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try! encoder.encode(entry.order), as: UTF8.self)
        // A malformed record: cut JSON, so decoding fails and the record goes to the dead-letter topic untried.
        let value = entry.malformed ? String(json.prefix(json.count / 2)) : json
        return KafkaProducerRecord(topic: topic, partition: entry.partition, key: entry.order.key, value: value,
                                   headers: [KafkaHeader(name: idHeader, string: entry.order.id)])
    }

    /// Whether attempt `attempt` of order `id` fails with a transient error: only first attempts, for
    /// `transientPercent` of the ids (the same ids in every process and every run of the seed).
    static func failsTransiently(id: String, attempt: Int, seed: UInt64, percent: Double) -> Bool {
        guard attempt == 1, percent > 0 else { return false }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var rng = SplitMix(seed: hash)
        return Double(rng.next() % 1_000_000) < percent * 10_000
    }
}
