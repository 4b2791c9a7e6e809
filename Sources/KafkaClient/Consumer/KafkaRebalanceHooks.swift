/// Code that runs on a rebalance, *before* it completes.
///
/// The poll thread waits for a hook (up to ``KafkaConsumerConfiguration/rebalanceHookTimeout``) before
/// it hands revoked partitions back to the group, so a revoke hook can finish in-flight work, store
/// offsets and ``KafkaConsumer/commit()`` while this member still owns the partitions.
public struct KafkaRebalanceHooks: Sendable {
    /// Called once partitions are assigned (their fetching may already have started). It can seek.
    public var onAssign: @Sendable ([KafkaTopicPartition]) async -> Void
    /// Called before partitions are given up. `lost` is `true` when the group already moved them
    /// (session expired, member fenced): then commits for them fail and must not be attempted.
    public var onRevoke: @Sendable (_ partitions: [KafkaTopicPartition], _ lost: Bool) async -> Void

    public init(onAssign: @escaping @Sendable ([KafkaTopicPartition]) async -> Void = { _ in },
                onRevoke: @escaping @Sendable (_ partitions: [KafkaTopicPartition], _ lost: Bool) async -> Void = { _, _ in }) {
        self.onAssign = onAssign
        self.onRevoke = onRevoke
    }

    /// No hooks.
    public static let none = KafkaRebalanceHooks()
}
