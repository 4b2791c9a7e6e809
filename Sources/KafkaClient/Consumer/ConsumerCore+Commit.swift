internal import Crdkafka

extension ConsumerCore {
    /// Queues `offsets` (with their metadata) to be committed from the poll thread; a newer offset of a partition
    /// replaces a queued one. `generations`: the assignment generation each offset belongs to (see
    /// ``KafkaRebalanceHooks``); an offset of an earlier assignment is dropped. The result arrives as a `.committed` event.
    func commitFromPollThread(_ offsets: [KafkaTopicPartitionOffset], generations: [KafkaTopicPartition: Int]) {
        state.withLock { state in
            guard state.lifecycle == .polling else { return }
            for offset in offsets {
                state.pendingCommits[offset.topicPartition] = (offset, generations[offset.topicPartition])
            }
        }
    }

    /// Sends the queued commits (poll thread, between polls, outside every lock) for the partitions still assigned,
    /// in the assignment the offsets belong to. Rebalance callbacks run on this thread too, and a revoke drops what is
    /// queued for its partitions: an offset read before a revoke is never sent after it (it could move the committed
    /// offset of the partition's next owner, or of this member's next assignment of it, backwards).
    func performCommits(rk: OpaquePointer) {
        let offsets = state.withLock { state -> [KafkaTopicPartitionOffset] in
            guard !state.pendingCommits.isEmpty else { return [] }
            defer { state.pendingCommits.removeAll() }
            return state.pendingCommits.values.filter { pending in
                let partition = pending.offset.topicPartition
                return state.assignment.contains(partition)
                    && (pending.generation == nil || state.assignedAt[partition] == pending.generation)
            }.map(\.offset).sorted { $0.topicPartition < $1.topicPartition }
        }
        guard !offsets.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(offsets)
        let err = list.withPointer { rd_kafka_commit(rk, $0, 1) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { handleCommit(error: KafkaError(rdCode: err, operation: "commit"), offsets: offsets) }
    }
}
