/// The batches of records a ``KafkaConsumer`` fetched. Ends when the consumer is closed, or throws a
/// ``KafkaError`` when it cannot go on (cluster unreachable at start, fatal client error).
public struct KafkaRecordBatches: AsyncSequence, Sendable {
    public typealias Element = [KafkaRecord]
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer

        /// Records polled before a rebalance that revoked (or re-assigned) their partition are left out: the
        /// partition's owner reads them again from the committed offset.
        public mutating func next() async throws -> [KafkaRecord]? {
            while let (records, generation) = try await nextTagged() {
                guard generation < consumer.core.generation.load(ordering: .relaxed) else { return records }
                let current = consumer.core.state.withLock { $0.assignedAt }
                let kept = records.filter { (current[$0.topicPartition] ?? .max) <= generation }
                if !kept.isEmpty || records.isEmpty { return kept }
            }
            return nil
        }

        /// The next batch with the assignment generation it was polled in: records of a partition assigned at a
        /// later generation (see ``KafkaRebalanceHooks``) were fetched before that assignment and are stale.
        package mutating func nextTagged() async throws -> (records: [KafkaRecord], generation: Int)? {
            guard let batch = try await consumer.core.handoff.next(onLow: consumer.core.leaveBackpressure) else { return nil }
            return (batch.records(readHeaders: consumer.core.configuration.fetch.readHeaders), batch.generation)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}

/// The records a ``KafkaConsumer`` fetched, one at a time.
public struct KafkaRecords: AsyncSequence, Sendable {
    public typealias Element = KafkaRecord
    let batches: KafkaRecordBatches

    public struct AsyncIterator: AsyncIteratorProtocol {
        var batches: KafkaRecordBatches.AsyncIterator
        var current: [KafkaRecord] = []
        var index = 0

        public mutating func next() async throws -> KafkaRecord? {
            while index == current.count {
                guard let batch = try await batches.next() else { return nil }
                current = batch
                index = 0
            }
            defer { index += 1 }
            return current[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(batches: batches.makeAsyncIterator()) }
}

extension Sequence<KafkaRecord> {
    /// For each partition in these records, the offset after the highest record: what to store once all are finished.
    public var nextOffsets: [KafkaTopicPartitionOffset] {
        var highest: [KafkaTopicPartition: Int64] = [:]
        for record in self {
            highest[record.topicPartition] = Swift.max(highest[record.topicPartition] ?? -1, record.offset)
        }
        return highest.map { KafkaTopicPartitionOffset($0.key, offset: $0.value + 1) }
            .sorted { $0.topicPartition < $1.topicPartition }
    }
}
