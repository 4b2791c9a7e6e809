internal import Crdkafka
import Dispatch
import Logging

extension ConsumerCore {
    /// librdkafka's rebalance callback, on the poll thread (or the thread closing the consumer).
    ///
    /// Assign: take the partitions, run the assign hook (synchronous: before any of their records is handed
    /// over), set their pause flags (librdkafka keeps a flag from an earlier assignment). Revoke: drop buffered
    /// records of the partitions, run the revoke hook, await the drain hook (bounded; not when lost), store and
    /// commit what the last hook returns (not when lost), then give the partitions up. Every step runs here, in
    /// order: no hook can run late against a newer assignment. Eager and cooperative protocols differ only in the
    /// assign/unassign calls.
    ///
    /// Both end by sending again the pause flags of the partitions kept that this assignment paused. librdkafka
    /// pauses every assigned partition itself before it hands a rebalance over (`rd_kafka_assignment_pause`, from its
    /// main thread) and resumes them in the assign/unassign call; a pause or resume of ours that took its version
    /// barrier before that pause and was queued after it is dropped as outdated (`rd_kafka_toppar_op_serve`), and
    /// `rd_kafka_pause/resume_partitions` still answer no error. A resume lost so kept the partition paused for good
    /// under the cooperative protocol (eager assigns every partition afresh, with its flag set anew). Sent here, after
    /// librdkafka's own pause and resume, ours come last.
    func handleRebalance(rk: OpaquePointer, err: rd_kafka_resp_err_t,
                         list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = RDKafkaTopicPartitionList.partitions(of: list).sorted()
        // librdkafka answers NULL before the group has a protocol (never seen in a callback); eager is its default.
        // The consumer protocol (KIP-848) is incremental whatever it answers (it says NONE before the first
        // subscribe has been served).
        let cooperative = configuration.groupProtocol == .consumer
            || rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let committed = hooks.readsCommitted ? Self.committed(rk: rk, partitions, logger: logger) : [:]
            let failure: KafkaError? = cooperative
                ? rd_kafka_incremental_assign(rk, list).map { KafkaError(consuming: $0, operation: "assign") }
                : Self.failure(rd_kafka_assign(rk, list), operation: "assign")
            if let failure {
                handleError(failure)
                return
            }
            let generation = self.generation.add(1, ordering: .relaxed).newValue
            state.withLock { state in
                state.assignment.formUnion(partitions)
                for partition in partitions { state.assignedAt[partition] = generation }
                state.userPaused.subtract(partitions)
                state.appliedPaused.subtract(partitions)
                state.pausedInAssignment.subtract(partitions)
                state.pauseUnknown.formUnion(partitions)
                state.pauseUnknown.formUnion(state.assignment.intersection(state.pausedInAssignment))
                state.pausesChanged = true
            }
            hooks.assign(partitions, generation, committed)
            reconcilePauses()
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)", "protocol": "\(cooperative ? "cooperative" : "eager")"])
            emit(KafkaConsumerEvent(kind: .assigned, partitions: partitions))

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            generation.add(1, ordering: .relaxed)
            handoff.purge(Set(partitions))
            state.withLock { state in for partition in partitions { state.pendingCommits[partition] = nil } }
            logger.info(lost ? "partitions lost" : "partitions revoked", metadata: ["partitions": "\(partitions)"])
            emit(KafkaConsumerEvent(kind: lost ? .lost : .revoked, partitions: partitions))
            hooks.revoke(partitions, lost)
            if !lost { runHook("drain") { [hooks] in await hooks.drain(partitions) } }
            let offsets = hooks.completeRevoke(partitions, lost)
            if !lost && !offsets.isEmpty { commitBeforeRevoke(rk: rk, offsets) }
            let failure: KafkaError? = cooperative
                ? rd_kafka_incremental_unassign(rk, list).map { KafkaError(consuming: $0, operation: "unassign") }
                : Self.failure(rd_kafka_assign(rk, nil), operation: "unassign")
            if let failure { handleError(failure) }
            state.withLock { state in
                state.assignment.subtract(partitions)
                for partition in partitions { state.assignedAt[partition] = nil }
                state.userPaused.subtract(partitions)
                state.appliedPaused.subtract(partitions)
                state.pausedInAssignment.subtract(partitions)
                state.pauseUnknown.subtract(partitions)
                state.pauseUnknown.formUnion(state.assignment.intersection(state.pausedInAssignment))
                state.pausesChanged = true
            }
            reconcilePauses()

        default:
            handleError(KafkaError(rdCode: err, operation: "rebalance"))
            _ = rd_kafka_assign(rk, nil)
            generation.add(1, ordering: .relaxed)
            state.withLock { state in
                state.assignment.removeAll()
                state.assignedAt.removeAll()
                state.userPaused.removeAll()
                state.appliedPaused.removeAll()
                state.pausedInAssignment.removeAll()
                state.pauseUnknown.removeAll()
            }
        }
    }

    /// How long the commit before a revoke may wait for the coordinator (librdkafka holds a commit while no
    /// coordinator is known, up to the session timeout): past it, the revoke goes on and the records may come again.
    static let revokeCommitTimeout: Duration = .seconds(10)

    /// Stores `offsets` and commits them (this is the poll thread), waiting at most ``revokeCommitTimeout`` for the
    /// answer, and reports the result as a `.committed` event. A store refused for a partition no longer ours is
    /// left out, never committed.
    private func commitBeforeRevoke(rk: OpaquePointer, _ offsets: [KafkaTopicPartitionOffset]) {
        let list = RDKafkaTopicPartitionList(offsets)
        _ = rd_kafka_offsets_store(rk, list.pointer)
        let refused = Set(list.errors(operation: "store offsets").map(\.0.topicPartition))
        let stored = offsets.filter { !refused.contains($0.topicPartition) }
        guard !stored.isEmpty else { return }
        let started = ContinuousClock.now
        var err = Self.commit(rk: rk, stored, timeout: Self.revokeCommitTimeout)
        if err == RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE {
            // The broker keeps less metadata than was sent: the same offsets, plain, within what is left of the bound.
            let plain = stored.map { KafkaTopicPartitionOffset($0.topicPartition, offset: $0.offset) }
            let left = Self.revokeCommitTimeout - (ContinuousClock.now - started)
            emit(KafkaConsumerEvent(kind: .committed, offsets: stored, error: KafkaError(rdCode: err, operation: "commit")))
            err = left > .zero ? Self.commit(rk: rk, plain, timeout: left) : RD_KAFKA_RESP_ERR__TIMED_OUT
        }
        let error: KafkaError? = err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET
            ? nil : KafkaError(rdCode: err, operation: "commit")
        if let error { logger.warning("commit before revoke failed", metadata: ["error": "\(error)", "offsets": "\(stored)"]) }
        emit(KafkaConsumerEvent(kind: .committed, offsets: stored, error: error))
    }

    /// Runs a hook on the cooperative pool and blocks this (poll) thread until it returns or times out.
    private func runHook(_ name: String, _ body: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            await body()
            done.signal()
        }
        let timeout = configuration.rebalanceHookTimeout
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout.wholeMilliseconds))
        if done.wait(timeout: deadline) == .timedOut {
            task.cancel()
            logger.error("rebalance hook timed out; the rebalance goes on without it",
                         metadata: ["hook": "\(name)", "timeout_ms": "\(timeout.wholeMilliseconds)"])
            emit(KafkaConsumerEvent(
                kind: .hookTimedOut,
                error: KafkaError(code: .timedOut, operation: "\(name) hook",
                                  message: "the \(name) hook did not return within \(timeout.wholeMilliseconds) ms")))
        }
    }

    /// Commits `offsets` through a queue of its own and waits for the answer up to `timeout` (`_TIMED_OUT` then; the
    /// commit may still land).
    private static func commit(rk: OpaquePointer, _ offsets: [KafkaTopicPartitionOffset], timeout: Duration) -> rd_kafka_resp_err_t {
        guard let queue = rd_kafka_queue_new(rk) else { return RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE }
        defer { rd_kafka_queue_destroy(queue) }
        let list = RDKafkaTopicPartitionList(offsets)
        let queued = list.withPointer { rd_kafka_commit_queue(rk, $0, queue, nil, nil) }
        guard queued == RD_KAFKA_RESP_ERR_NO_ERROR else { return queued }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let left = Int32(clamping: max(1, (deadline - ContinuousClock.now).wholeMilliseconds))
            guard let event = rd_kafka_queue_poll(queue, left) else { continue }
            defer { rd_kafka_event_destroy(event) }
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT { return rd_kafka_event_error(event) }
        }
        return RD_KAFKA_RESP_ERR__TIMED_OUT
    }

    /// The group's committed offsets (with metadata) of `partitions`, read on this (poll) thread within
    /// ``KafkaRebalanceHooks/committedReadTimeout``; empty when the read fails (the hook then goes without).
    private static func committed(rk: OpaquePointer, _ partitions: [KafkaTopicPartition],
                                  logger: Logger) -> [KafkaTopicPartition: KafkaTopicPartitionOffset] {
        guard !partitions.isEmpty else { return [:] }
        let list = RDKafkaTopicPartitionList(partitions)
        let err = list.withPointer {
            rd_kafka_committed(rk, $0, Int32(clamping: KafkaRebalanceHooks.committedReadTimeout.wholeMilliseconds))
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.warning("could not read the committed offsets of the assigned partitions",
                           metadata: ["error": "\(KafkaError(rdCode: err, operation: "committed"))"])
            return [:]
        }
        let failed = Set(list.errors(operation: "committed").map(\.0.topicPartition))
        return Dictionary(list.offsets.filter { !failed.contains($0.topicPartition) }.map { ($0.topicPartition, $0) },
                          uniquingKeysWith: { $1 })
    }

    private static func failure(_ err: rd_kafka_resp_err_t, operation: String) -> KafkaError? {
        err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(rdCode: err, operation: operation)
    }
}
