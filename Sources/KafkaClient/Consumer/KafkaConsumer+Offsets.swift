internal import Crdkafka

/// A stored offset librdkafka refused.
public struct KafkaOffsetRejection: Sendable, Hashable, CustomStringConvertible {
    public var offset: KafkaTopicPartitionOffset
    /// `.state` when the partition is no longer assigned to this member: lost, do not commit.
    public var error: KafkaError

    public var description: String { "\(offset): \(error.name)" }
}

extension KafkaConsumer {
    /// Marks offsets as ready to commit (`rd_kafka_offsets_store`). Each offset is the *next* one to read:
    /// the last finished record's offset + 1. Committed by the next auto-commit, ``commit()`` or ``close()``.
    ///
    /// - Returns: the offsets refused, e.g. with `.state` for partitions no longer assigned (revoked or lost).
    ///   Those must not be committed; the new owner reads the records again.
    @discardableResult
    public func storeOffsets(_ offsets: [KafkaTopicPartitionOffset]) -> [KafkaOffsetRejection] {
        guard !offsets.isEmpty else { return [] }
        let list = RDKafkaTopicPartitionList(offsets)
        let err = rd_kafka_offsets_store(client.pointer, list.pointer)
        var rejected = list.errors(operation: "store offsets").map { KafkaOffsetRejection(offset: $0.0, error: $0.1) }
        if rejected.isEmpty && err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let error = KafkaError(rdCode: err, operation: "store offsets")
            rejected = offsets.map { KafkaOffsetRejection(offset: $0, error: error) }
        }
        if !rejected.isEmpty {
            core.logger.debug("stored offsets rejected", metadata: ["rejected": "\(rejected)"])
        }
        return rejected
    }

    /// Commits the stored offsets of the current assignment and waits for the broker's answer.
    /// Nothing stored since the last commit is not an error.
    public func commit() async throws(KafkaError) {
        try await blocking.run { [client] () throws(KafkaError) in
            let err = rd_kafka_commit(client.pointer, nil, 0)
            if err != RD_KAFKA_RESP_ERR__NO_OFFSET { try KafkaError.check(err, operation: "commit") }
        }
    }

    /// Commits exactly `offsets` (next offsets to read) and waits for the broker's answer.
    public func commit(_ offsets: [KafkaTopicPartitionOffset]) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        try await blocking.run { [client] () throws(KafkaError) in
            let list = RDKafkaTopicPartitionList(offsets)
            try KafkaError.check(rd_kafka_commit(client.pointer, list.pointer, 0), operation: "commit")
            if let (_, error) = list.errors(operation: "commit").first { throw error }
        }
    }

    /// Commits `offsets` (with their metadata) without waiting: the poll thread sends them between two polls, for
    /// the partitions still assigned then (a revoke in between drops them). The newest offset queued for a partition
    /// wins. The result arrives as a `.committed` event.
    public func commitInBackground(_ offsets: [KafkaTopicPartitionOffset]) {
        core.commitFromPollThread(offsets, generations: [:])
    }

    /// Like ``commitInBackground(_:)``, each offset only if its partition is still in the assignment `generations`
    /// names (the generation the assign hook was given): an offset read before a revoke and a new assignment of the
    /// same partition is dropped.
    package func commitInBackground(_ offsets: [KafkaTopicPartitionOffset], generations: [KafkaTopicPartition: Int]) {
        core.commitFromPollThread(offsets, generations: generations)
    }

    /// Starts a commit of the stored offsets without waiting; the result arrives as a `.committed` event.
    public func commitAsync() throws(KafkaError) {
        let err = rd_kafka_commit(client.pointer, nil, 1)
        if err != RD_KAFKA_RESP_ERR__NO_OFFSET { try KafkaError.check(err, operation: "commit") }
    }

    /// The group's committed offsets for `partitions`, asked of the coordinator.
    /// A partition without a committed offset has ``KafkaOffset/invalid``.
    public func committedOffsets(for partitions: [KafkaTopicPartition], timeout: Duration = .seconds(10))
        async throws(KafkaError) -> [KafkaTopicPartitionOffset]
    {
        try await blocking.run { [client] () throws(KafkaError) in
            let list = RDKafkaTopicPartitionList(partitions)
            try KafkaError.check(rd_kafka_committed(client.pointer, list.pointer, Int32(clamping: timeout.wholeMilliseconds)),
                                 operation: "committed offsets")
            if let (_, error) = list.errors(operation: "committed offsets").first { throw error }
            return list.offsets
        }
    }

    /// The next offset this consumer will deliver for each partition (``KafkaOffset/invalid`` if unknown).
    public func positions(for partitions: [KafkaTopicPartition]) throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        let list = RDKafkaTopicPartitionList(partitions)
        try KafkaError.check(rd_kafka_position(client.pointer, list.pointer), operation: "position")
        return list.offsets
    }

    /// The last watermarks librdkafka saw for a partition while fetching; sends no request.
    /// The high watermark is updated by every fetch; the low one only with statistics enabled.
    public func cachedWatermarks(for partition: KafkaTopicPartition) throws(KafkaError) -> KafkaWatermarks {
        try client.cachedWatermarks(partition)
    }

    /// Watermarks asked of the partition leader.
    public func queryWatermarks(for partition: KafkaTopicPartition, timeout: Duration = .seconds(10))
        async throws(KafkaError) -> KafkaWatermarks
    {
        try await blocking.run { [client] () throws(KafkaError) in try client.queryWatermarks(partition, timeout: timeout) }
    }

    /// Moves assigned partitions to `offsets`; the next records delivered for them start there.
    ///
    /// Records of those partitions fetched before the seek are never delivered after it returns, and none fetched
    /// at the new position is dropped: the poll thread runs the seek between two polls. Fails with `.state` when the
    /// consumer is not polling (before ``subscribe(topics:)``, after ``close()``).
    public func seek(_ offsets: [KafkaTopicPartitionOffset], timeout: Duration = .seconds(10)) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        if let failure = await core.seek(offsets, timeout: timeout) { throw failure }
    }
}
