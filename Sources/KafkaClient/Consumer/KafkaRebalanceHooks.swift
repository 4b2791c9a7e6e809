/// Code that runs on a rebalance, *before* it completes.
///
/// The state changes are synchronous and run on the consumer's poll thread, in the order librdkafka reports the
/// rebalance, so no record of an assignment is handed over before `onAssign` ran and none of a revoked partition
/// after `onRevoke` ran. Only `drain` awaits: the poll thread waits for it up to
/// ``KafkaConsumerConfiguration/rebalanceHookTimeout`` and then goes on with `completeRevoke` whether it
/// returned or not — so the partitions' fate is decided in one place, by the poll thread.
///
/// A revoke runs `onRevoke` → `drain` (not when lost) → `completeRevoke` → the consumer stores and commits the
/// offsets `completeRevoke` returned (not when lost) → the partitions are given up.
public struct KafkaRebalanceHooks: Sendable {
    /// Partitions were assigned at assignment `generation`; fetching them may start right after. Poll thread;
    /// must not block. Records of these partitions in a batch of a lower generation were fetched under an
    /// earlier assignment (package: `KafkaRecordBatches.AsyncIterator.nextTagged()`).
    package var assign: @Sendable (_ partitions: [KafkaTopicPartition], _ generation: Int,
                                   _ committed: [KafkaTopicPartition: KafkaTopicPartitionOffset]) -> Void
    /// Whether `assign` wants the group's committed offsets (with their metadata) of the assigned partitions: the
    /// poll thread reads them first (bounded by ``committedReadTimeout``; left empty when that fails).
    package var readsCommitted = false
    /// How long the assign's read of committed offsets may take.
    package static let committedReadTimeout: Duration = .seconds(5)
    /// Partitions are being revoked (`lost`: the group already moved them). Poll thread; must not block.
    package var revoke: @Sendable (_ partitions: [KafkaTopicPartition], _ lost: Bool) -> Void
    /// Awaited while the partitions are still owned (not for lost ones): finish in-flight work, store, commit.
    package var drain: @Sendable (_ partitions: [KafkaTopicPartition]) async -> Void
    /// After the drain (or its timeout): the last offsets to store and commit before the partitions go. Poll
    /// thread; must not block. Its result is ignored when the partitions were lost.
    package var completeRevoke: @Sendable (_ partitions: [KafkaTopicPartition], _ lost: Bool) -> [KafkaTopicPartitionOffset]

    /// - Parameters:
    ///   - onAssign: partitions assigned (poll thread, synchronous; must not block).
    ///   - onRevoke: partitions about to be given up, `lost` when the group already moved them (poll thread,
    ///     synchronous; must not block).
    ///   - drain: awaited before revoked (not lost) partitions are given up, up to the hook timeout: finish work,
    ///     ``KafkaConsumer/storeOffsets(_:)`` and ``KafkaConsumer/commit()`` here.
    ///   - offsetsToCommit: after `drain`: offsets the consumer stores and commits synchronously before the
    ///     partitions go (poll thread; not called for lost partitions).
    public init(onAssign: @escaping @Sendable ([KafkaTopicPartition]) -> Void = { _ in },
                onRevoke: @escaping @Sendable (_ partitions: [KafkaTopicPartition], _ lost: Bool) -> Void = { _, _ in },
                drain: @escaping @Sendable (_ partitions: [KafkaTopicPartition]) async -> Void = { _ in },
                offsetsToCommit: @escaping @Sendable (_ partitions: [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset] = { _ in [] }) {
        self.assign = { partitions, _, _ in onAssign(partitions) }
        self.revoke = onRevoke
        self.drain = drain
        self.completeRevoke = { partitions, lost in lost ? [] : offsetsToCommit(partitions) }
    }

    package init(assign: @escaping @Sendable ([KafkaTopicPartition], Int, [KafkaTopicPartition: KafkaTopicPartitionOffset]) -> Void,
                 readsCommitted: Bool = false,
                 revoke: @escaping @Sendable ([KafkaTopicPartition], Bool) -> Void,
                 drain: @escaping @Sendable ([KafkaTopicPartition]) async -> Void,
                 completeRevoke: @escaping @Sendable ([KafkaTopicPartition], Bool) -> [KafkaTopicPartitionOffset]) {
        self.assign = assign
        self.readsCommitted = readsCommitted
        self.revoke = revoke
        self.drain = drain
        self.completeRevoke = completeRevoke
    }

    /// No hooks.
    public static let none = KafkaRebalanceHooks()
}
