internal import Crdkafka

extension ConsumerCore {
    /// Queues `offsets` (with their metadata) to be committed from the poll thread; a newer offset of a partition
    /// replaces a queued one. The result arrives as a `.committed` event.
    func commitFromPollThread(_ offsets: [KafkaTopicPartitionOffset]) {
        state.withLock { state in
            guard state.lifecycle == .polling else { return }
            for offset in offsets { state.pendingCommits[offset.topicPartition] = offset }
        }
    }

    /// Sends the queued commits (poll thread, between polls, outside every lock) for the partitions still assigned.
    /// Rebalance callbacks run on this thread too, so a partition revoked after its offset was queued is never
    /// committed by this member afterwards: its new owner's progress cannot be overwritten.
    func performCommits(rk: OpaquePointer) {
        let offsets = state.withLock { state -> [KafkaTopicPartitionOffset] in
            guard !state.pendingCommits.isEmpty else { return [] }
            defer { state.pendingCommits.removeAll() }
            return state.pendingCommits.values.filter { state.assignment.contains($0.topicPartition) }
                .sorted { $0.topicPartition < $1.topicPartition }
        }
        guard !offsets.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(offsets)
        let err = list.withPointer { rd_kafka_commit(rk, $0, 1) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { handleCommit(error: KafkaError(rdCode: err, operation: "commit"), offsets: offsets) }
    }
}
