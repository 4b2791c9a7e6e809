import KafkaClient
import KafkaWorkerTesting
import Testing

/// KIP-848 on the embedded cluster: librdkafka 2.12+'s mock cluster serves ConsumerGroupHeartbeat (the assignment
/// is computed by the mock coordinator and arrives with heartbeats, every 3 s by the mock's default).
@Suite("Consumer group protocol (KIP-848)", .timeLimit(.minutes(3)),
       .enabled(if: KafkaLibrary.isAtLeast(2, 12),
                "group.protocol=consumer (KIP-848) needs librdkafka 2.12+, whose mock cluster serves ConsumerGroupHeartbeat; older ones refuse it at start-up"))
struct ConsumerGroupProtocolTests {
    static func all(_ topic: String) -> Set<KafkaTopicPartition> {
        Set((0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
    }

    @Test("a second member joins and the first leaves: incremental hooks only, commits in the revoke hooks, no record read twice")
    func membersComeAndGo() async throws {
        let topic = try KafkaTesting.topic("kip848", partitions: 4)
        try await KafkaTesting.produce(40, to: topic, partitions: 4)
        var configuration = KafkaTesting.consumerConfiguration(group: KafkaTesting.unique("g"), groupProtocol: .consumer)
        configuration.commit.autoCommit = false  // only the revoke hooks commit
        let a = MemberLog()
        let readerA = try await a.start(configuration, topic: topic)
        try await waitUntil("a owns every partition", within: .seconds(30)) { a.assignment == Self.all(topic) }
        try await waitUntil("a reads all 40 records") {
            let consumed = a.state.withLock { $0.consumed }
            return consumed.count == 4 && consumed.values.allSatisfy { $0 == 9 }
        }

        let b = MemberLog()
        let readerB = try await b.start(configuration, topic: topic)
        try await waitUntil("a and b share the partitions", within: .seconds(40)) {
            a.assignment.count == 2 && b.assignment.count == 2 && a.assignment.isDisjoint(with: b.assignment)
        }
        // Incremental: a gave up only what moved, and never took everything back.
        #expect(a.hookLog.first == "assign 4", "\(a.hookLog)")
        #expect(a.hookLog.contains("revoke 2") && !a.hookLog.contains("revoke 4"), "\(a.hookLog)")
        for member in [a, b] {
            #expect(member.state.withLock { $0.ownedByHooks } == member.assignment, "\(member.hookLog)")
            #expect(member.state.withLock { $0.revokeStoreRejections }.isEmpty)
        }
        let aCommits = a.state.withLock { $0.revokeCommits }
        #expect(!aCommits.isEmpty && aCommits.allSatisfy { $0 == nil }, "\(aCommits)")

        // b starts a's former partitions where a's revoke hook committed: nothing read twice.
        try await KafkaTesting.produce(4, to: topic, partitions: 4, from: 40)
        try await waitUntil("b reads its new records") {
            let consumed = b.state.withLock { $0.consumed }
            return b.assignment.allSatisfy { consumed[$0] == 10 }
        }
        let bFirst = b.state.withLock { $0.firstSeen }
        #expect(b.assignment.allSatisfy { bFirst[$0] == 10 }, "b started at \(bFirst)")

        let aPartitions = a.assignment
        try await waitUntil("a reads its new records") {
            let consumed = a.state.withLock { $0.consumed }
            return aPartitions.allSatisfy { consumed[$0] == 10 }
        }
        readerA.cancel()
        await a.close()
        #expect(a.hookLog.last == "revoke 2", "\(a.hookLog)")
        #expect(a.state.withLock { $0.revokeCommits }.last.map { $0 == nil } == true)
        try await waitUntil("b owns every partition", within: .seconds(40)) { b.assignment == Self.all(topic) }
        try await KafkaTesting.produce(4, to: topic, partitions: 4, from: 44)
        try await waitUntil("b reads the new records of a's partitions") {
            let consumed = b.state.withLock { $0.consumed }
            return aPartitions.allSatisfy { consumed[$0] == 11 }
        }
        let first = b.state.withLock { $0.firstSeen }
        #expect(aPartitions.allSatisfy { first[$0] == 11 }, "b resumed a's partitions at \(first), a committed 11")
        #expect(!b.hookLog.contains { $0.hasPrefix("revoke") || $0.hasPrefix("lost") }, "\(b.hookLog)")
        readerB.cancel()
        await b.close()
    }
}
