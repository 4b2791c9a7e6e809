import KafkaClient

extension WorkerRun {
    /// Assignment: fresh progress tracking (a new epoch) for the partitions.
    func partitionsAssigned(_ partitions: [KafkaTopicPartition]) async {
        metrics.rebalance()
        schedule { state in ((), state.assign(partitions)) }
        events.emit(WorkerEvent(kind: .assigned, partitions: partitions))
    }

    /// Revoke (before it completes): stop dispatching the partitions, wait (bounded) for their in-flight records,
    /// store and commit what finished, then let the partitions go. Lost partitions are dropped without a commit.
    func partitionsRevoked(_ partitions: [KafkaTopicPartition], lost: Bool) async {
        events.emit(WorkerEvent(kind: .rebalancing, partitions: partitions))
        scheduler.withLock { $0.beginRevoke(partitions) }
        revocations.add(1, ordering: .relaxed)
        runner.wakeup.fire()
        // At shutdown the drain already happened (bounded by the grace period).
        if !lost && !stopRequested.hasFired {
            let drained = await waitUntil(within: configuration.revokeDrainTimeout) {
                self.scheduler.withLock { $0.chunksRunning(of: partitions) } == 0
            }
            if !drained {
                logger.warning("revoked partitions still have records running; they will not be committed",
                               metadata: [LogKey.partitions: "\(partitions)"])
            }
        }
        flushAllLanes()
        let offsets = scheduler.withLock { $0.completeRevoke(partitions) }
        guard !lost else {
            events.emit(WorkerEvent(kind: .lost, partitions: partitions,
                                    message: "partitions lost; their unfinished work is not committed"))
            return
        }
        events.emit(WorkerEvent(kind: .revoked, partitions: partitions))
        await commit(offsets)
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

    /// Forwards the consumer's commit results (auto-commits included) and fatal errors.
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
