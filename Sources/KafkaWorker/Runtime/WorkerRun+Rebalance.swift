import Foundation
import KafkaClient
import Synchronization

extension WorkerRun {
    /// Assignment (poll thread, before any of their records is handed over): fresh progress tracking (a new
    /// epoch) for the partitions; records fetched before `generation` are dropped as stale.
    func partitionsAssigned(_ partitions: [KafkaTopicPartition], generation: Int) {
        metrics.rebalance()
        schedule { state in ((), state.assign(partitions, generation: generation)) }
        events.emit(WorkerEvent(kind: .assigned, partitions: partitions))
    }

    /// Revoke begins (poll thread): the partitions drain — only queued records below each one's highest finished
    /// record still start; the rest are dropped when the revoke completes (at once when the partitions are lost).
    /// The epochs being revoked are kept for ``completeRevoke(_:lost:)``.
    func beginRevoke(_ partitions: [KafkaTopicPartition], lost: Bool) {
        events.emit(WorkerEvent(kind: .rebalancing, partitions: partitions))
        let epochs = schedule { state in state.beginRevoke(partitions, drain: !lost) }
        revoking.withLock { $0.merge(epochs) { $1 } }
        revocations.add(1, ordering: .relaxed)
        runner.wakeup.fire()
    }

    /// Waits (≤ `revokeDrainTimeout`) for the revoked partitions' records in flight; at once at shutdown (the
    /// drain already happened, bounded by the grace period) or when forced.
    func drainRevoked(_ partitions: [KafkaTopicPartition]) async {
        guard !stopRequested.hasFired else { return }
        // Records running finish, and queued ones below each partition's highest finished record run too: the
        // commit then covers everything finished, and the next owner starts after it.
        let drained = await waitUntil(within: configuration.revokeDrainTimeout) {
            self.scheduler.withLock { $0.isDrained(partitions) }
        }
        if !drained {
            logger.warning("revoked partitions still have records running; they will not be committed",
                           metadata: [LogKey.partitions: "\(partitions)"])
        }
    }

    /// Revoke completes (poll thread): the finished records are handed in, the partitions forgotten (only the
    /// epochs this revoke began: a later assignment is never touched), and the offsets to commit returned.
    func completeRevoke(_ partitions: [KafkaTopicPartition], lost: Bool) -> [KafkaTopicPartitionOffset] {
        flushAllLanes()
        let epochs = revoking.withLock { revoking in
            var epochs: [KafkaTopicPartition: Int] = [:]
            for partition in partitions { epochs[partition] = revoking.removeValue(forKey: partition) }
            return epochs
        }
        let offsets = schedule { state in state.completeRevoke(epochs) }
        if lost {
            events.emit(WorkerEvent(kind: .lost, partitions: partitions,
                                    message: "partitions lost; their unfinished work is not committed"))
            return []
        }
        events.emit(WorkerEvent(kind: .revoked, partitions: partitions))
        return offsets
    }

    /// Stores `offsets` and commits synchronously, reporting the outcome as a `.committed` event.
    func commit(_ offsets: [KafkaTopicPartitionOffset]) async {
        let rejected = consumer.storeOffsets(offsets)
        do throws(KafkaError) {
            try await consumer.commit()
            events.emit(WorkerEvent(kind: .committed, offsets: offsets.filter { offset in
                !rejected.contains { $0.offset == offset }
            }))
        } catch {
            metrics.commitFailed(error.name)
            events.emit(WorkerEvent(kind: .committed, offsets: offsets, error: error.description,
                                    message: "commit failed; the records may be delivered again"))
        }
    }

    /// Forwards the consumer's commit results (auto-commits and revoke commits included) and fatal errors.
    func forwardConsumerEvents() async {
        for await event in consumer.events {
            switch event.kind {
            case .committed:
                if let error = event.error {
                    metrics.commitFailed(error.name)
                    events.emit(WorkerEvent(kind: .committed, offsets: event.offsets, error: error.description,
                                            message: "commit failed; the records may be delivered again"))
                } else if !event.offsets.isEmpty {
                    events.emit(WorkerEvent(kind: .committed, offsets: event.offsets))
                }
            case .error where event.error?.isFatal == true:
                crash(event.error!)
            default:
                break
            }
        }
    }

    /// Polls `condition` every 5 ms until it holds (`true`), the time is up or a forced stop (`false`).
    func waitUntil(within limit: Duration, _ condition: @Sendable () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline, !forced.hasFired else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
