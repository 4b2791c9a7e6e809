import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization

/// Calls per record id, and anything else a handler wants to note, safe from any task.
final class Ledger: Sendable {
    private let state = Mutex<(attempts: [String: Int], order: [String])>(([:], []))
    func note(_ id: String) { state.withLock { $0.attempts[id, default: 0] += 1; $0.order.append(id) } }
    var attempts: [String: Int] { state.withLock { $0.attempts } }
    var order: [String] { state.withLock { $0.order } }
    var total: Int { state.withLock { $0.order.count } }
}

/// A clock that does not wait: it records each requested sleep and returns at once.
final class RecordingClock: Clock, Sendable {
    typealias Instant = ContinuousClock.Instant
    private let sleeps = Mutex<[Duration]>([])
    var now: Instant { ContinuousClock.now }
    var minimumResolution: Duration { .nanoseconds(1) }
    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        sleeps.withLock { $0.append(deadline - ContinuousClock.now) }
        try Task.checkCancellation()
        await Task.yield()
    }
    var recorded: [Duration] { sleeps.withLock { $0 } }
}

/// JSON records `{"id": "<id>"}` keyed by `key`.
struct Item: Codable, Sendable { var id: String; var seq: Int? }

func itemRecord(topic: String, id: String, key: String? = nil, seq: Int? = nil, partition: Int32? = nil) -> KafkaProducerRecord {
    let json = seq.map { #"{"id":"\#(id)","seq":\#($0)}"# } ?? #"{"id":"\#(id)"}"#
    return KafkaProducerRecord(topic: topic, partition: partition, key: key ?? id, value: json)
}

func produce(_ records: [KafkaProducerRecord], cluster: EmbeddedKafkaCluster = KafkaTesting.shared) async throws {
    try await KafkaTesting.send(records, cluster: cluster)
}

/// The group's committed offset of one partition (`KafkaOffset.invalid` if none).
func committed(_ group: String, _ topic: String, partition: Int32 = 0,
               cluster: EmbeddedKafkaCluster = KafkaTesting.shared) async throws -> Int64 {
    try await KafkaTesting.committed(group, topic, partition: partition, cluster: cluster)
}
