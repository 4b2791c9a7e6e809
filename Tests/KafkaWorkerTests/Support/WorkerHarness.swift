import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization

/// A running worker in a test, with everything it reported.
final class RunningWorker: Sendable {
    let worker: KafkaWorker
    let task: Task<Void, any Error>
    private let box = EventBox()
    private let collector: Task<Void, Never>

    init(_ worker: KafkaWorker) {
        self.worker = worker
        let events = worker.events
        collector = Task { [box] in for await event in events { box.append(event) } }
        task = Task { try await worker.run() }
    }

    var events: [WorkerEvent] { box.all }
    /// Events with the time the test saw them.
    var timedEvents: [(Date, WorkerEvent)] { box.timed }
    func events(_ kind: WorkerEvent.Kind) -> [WorkerEvent] { box.all.filter { $0.kind == kind } }

    /// Stops the worker and waits for `run()` to return.
    func stop(force: Bool = false) async throws {
        worker.stop(force: force)
        try await withDeadline(.seconds(60), "worker stop") { [task] in try await task.value }
        await collector.value
    }
}

final class EventBox: Sendable {
    private let events = Mutex<[(Date, WorkerEvent)]>([])
    func append(_ event: WorkerEvent) { events.withLock { $0.append((Date(), event)) } }
    var all: [WorkerEvent] { events.withLock { $0.map(\.1) } }
    var timed: [(Date, WorkerEvent)] { events.withLock { $0 } }
}

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
    let producer = try KafkaTesting.producer(cluster)
    for result in await producer.sendAll(records) { _ = try result.get() }
    await producer.close()
}

/// The group's committed offset of one partition (`KafkaOffset.invalid` if none).
func committed(_ group: String, _ topic: String, partition: Int32 = 0,
               cluster: EmbeddedKafkaCluster = KafkaTesting.shared) async throws -> Int64 {
    let admin = try KafkaAdmin(connection: .init(bootstrapServers: cluster.bootstrapServers), logger: KafkaTesting.logger)
    return try await admin.committedOffsets(group: group, partitions: [.init(topic: topic, partition: partition)])[0].offset
}
