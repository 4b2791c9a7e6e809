public import Foundation
public import KafkaClient
public import KafkaWorker
import Synchronization

/// A worker running in a test, with everything it reported.
public final class RunningWorker: Sendable {
    public let worker: KafkaWorker
    public let task: Task<Void, any Error>
    private let box = EventBox()
    private let collector: Task<Void, Never>

    /// Starts `worker.run()` and collects its events.
    public init(_ worker: KafkaWorker) {
        self.worker = worker
        let events = worker.events
        collector = Task { [box] in for await event in events { box.append(event) } }
        task = Task { try await worker.run() }
    }

    public var events: [WorkerEvent] { box.all }
    /// Events with the time the test saw them.
    public var timedEvents: [(Date, WorkerEvent)] { box.timed }
    public func events(_ kind: WorkerEvent.Kind) -> [WorkerEvent] { box.all.filter { $0.kind == kind } }

    /// The partitions the worker owns by its events so far: assigned, minus revoked and lost, in order. Right under
    /// both rebalance protocols (eager: every revoke takes all and every assign gives all; cooperative: both are
    /// increments, and an assign may be empty).
    public var assignment: Set<KafkaTopicPartition> {
        var owned: Set<KafkaTopicPartition> = []
        for event in box.all {
            switch event.kind {
            case .assigned: owned.formUnion(event.partitions)
            case .revoked, .lost: owned.subtract(event.partitions)
            default: break
            }
        }
        return owned
    }

    /// Stops the worker and waits for `run()` to return.
    public func stop(force: Bool = false) async throws {
        worker.stop(force: force)
        try await withDeadline(.seconds(60), "worker stop") { [task] in try await task.value }
        await collector.value
    }
}

private final class EventBox: Sendable {
    private let events = Mutex<[(Date, WorkerEvent)]>([])
    func append(_ event: WorkerEvent) { events.withLock { $0.append((Date(), event)) } }
    var all: [WorkerEvent] { events.withLock { $0.map(\.1) } }
    var timed: [(Date, WorkerEvent)] { events.withLock { $0 } }
}
