import Foundation
import KafkaClient
import Synchronization

extension WorkerRun {
    /// Assignment (poll thread, before any of their records is handed over): fresh progress tracking (a new
    /// epoch) for the partitions; records fetched before `generation` are dropped as stale.
    /// `committed`: the group's committed offsets with their metadata; the finished offsets a commit lists above
    /// itself are skipped when they arrive (they ran before: a crash, a revoke, a stop past its grace period).
    func partitionsAssigned(_ partitions: [KafkaTopicPartition], generation: Int,
                            committed: [KafkaTopicPartition: KafkaTopicPartitionOffset] = [:]) {
        metrics.rebalance()
        var skip: [KafkaTopicPartition: [ClosedRange<Int64>]] = [:]
        for (partition, offset) in committed where offset.offset >= 0 {
            guard let metadata = offset.metadata,
                  let ranges = FinishedOffsetsMetadata.decode(metadata, committed: offset.offset) else { continue }
            skip[partition] = ranges
        }
        schedule { state in ((), state.assign(partitions, generation: generation, skip: skip)) }
        // What the broker confirmed before may have been overwritten by another owner since: send afresh.
        confirmedCommits.withLock { confirmed in for partition in partitions { confirmed[partition] = nil } }
        if !skip.isEmpty {
            logger.info("records finished before above the committed offsets are skipped when they arrive",
                        metadata: [LogKey.partitions: "\(skip.keys.sorted())",
                                   "ranges": "\(skip.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.count)" })"])
        }
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
            self.flushAllLanes()
            return self.scheduler.withLock { $0.isDrained(partitions) }
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

    /// Stores `offsets` and commits them synchronously (the list itself, with its metadata, which librdkafka < 2.2
    /// does not keep for stored offsets), reporting the outcome as a `.committed` event. A broker that refuses the
    /// metadata gets the same offsets again without it, and no metadata from then on.
    func commit(_ offsets: [KafkaTopicPartitionOffset]) async {
        let rejected = consumer.storeOffsets(offsets)
        let accepted = offsets.filter { offset in !rejected.contains { $0.offset.topicPartition == offset.topicPartition } }
        guard !accepted.isEmpty else { return }
        do throws(KafkaError) {
            do {
                try await consumer.commit(accepted)
            } catch where error.code == .offsetMetadataTooLarge {
                refuseCommitMetadata(error)
                try await consumer.commit(accepted.map { KafkaTopicPartitionOffset($0.topicPartition, offset: $0.offset) })
            }
            confirmedCommits.withLock { confirmed in
                for offset in accepted { confirmed[offset.topicPartition] = offset }
            }
            events.emit(WorkerEvent(kind: .committed, offsets: accepted))
        } catch {
            metrics.commitFailed(error.name)
            events.emit(WorkerEvent(kind: .committed, offsets: offsets, error: error.description,
                                    message: "commit failed; the records may be delivered again"))
        }
    }

    /// Every `interval` (`consumer.commit.interval`, when `consumer.commit.autoCommit`): commits each partition's
    /// committable offset, with the finished offsets above it as metadata, where it differs from what the broker last
    /// confirmed (a failed commit is sent again next time). The poll thread sends it, only for partitions still
    /// assigned.
    func commitLoop(every interval: Duration) async {
        while await sleepUnlessStopped(interval) {
            let offsets = scheduler.withLock { $0.committableOffsetsByGeneration }
            let changed = confirmedCommits.withLock { confirmed in offsets.filter { confirmed[$0.offset.topicPartition] != $0.offset } }
            if !changed.isEmpty {
                consumer.commitInBackground(changed.map(\.offset), generations: Dictionary(
                    changed.map { ($0.offset.topicPartition, $0.generation) }, uniquingKeysWith: { $1 }))
            }
        }
    }

    /// Forwards the consumer's commit results (the commit loop's and revoke commits included) and fatal errors.
    func forwardConsumerEvents() async {
        for await event in consumer.events {
            switch event.kind {
            case .committed:
                if let error = event.error, error.code == .offsetMetadataTooLarge { refuseCommitMetadata(error) }
                if let error = event.error {
                    metrics.commitFailed(error.name)
                    events.emit(WorkerEvent(kind: .committed, offsets: event.offsets, error: error.description,
                                            message: "commit failed; the records may be delivered again"))
                } else if !event.offsets.isEmpty {
                    confirmedCommits.withLock { confirmed in
                        for offset in event.offsets { confirmed[offset.topicPartition] = offset }
                    }
                    events.emit(WorkerEvent(kind: .committed, offsets: event.offsets))
                }
            case .error where event.error?.isFatal == true:
                crash(event.error!)
            default:
                break
            }
        }
    }

    /// The broker refused a commit's metadata: commits go plain from now on (what is finished above a commit is
    /// then delivered again, as with any consumer).
    func refuseCommitMetadata(_ error: KafkaError) {
        scheduler.withLock { $0.disableCommitMetadata() }
        logger.warning("the broker refuses the commit metadata (offset.metadata.max.bytes below commitMetadataMaxBytes); committing plain offsets from now on",
                       metadata: [LogKey.error: "\(error)"])
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
