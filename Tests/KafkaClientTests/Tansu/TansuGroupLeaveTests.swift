import KafkaClient
import KafkaWorkerTesting
import Synchronization
import Testing

/// Pinned Tansu 0.6 defect, found by `kafka-worker chaos` (a run stuck for minutes after a graceful restart): when
/// the group's leader leaves (LeaveGroup) while the group re-forms, Tansu removes the member but keeps its id as
/// the leader, so JoinGroup keeps naming a leader that no longer exists, no SyncGroup succeeds and nobody gets
/// partitions; no timeout clears it (its stable-state leave path clears the leader, the re-forming one does not).
/// If this test fails, Tansu fixed it: drop the test, and let the Tansu chaos tier restart workers gracefully too.
@Suite("Tansu: a leader leaving while the group re-forms", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: TansuSupport.runs, TansuSupport.reason))
struct TansuGroupLeaveTests {
    @Test("pinned Tansu bug: the member left behind gets no partition for 25 s; the same leave once the group is stable hands them over")
    func leaderLeavesWhileReforming() async throws {
        try await TansuBroker.with { broker in
            let topic = try await broker.topic("leave", partitions: 4)
            // The control first: the second member joins, the group settles, then the first leaves.
            let settled = try await assignedAfterLeave(broker, topic: topic, leaveAfter: .seconds(15), within: .seconds(25))
            #expect(settled == 4, "a leave from a stable group hands every partition to the member left")
            // The defect: the first member (the leader) leaves one second after the second joined.
            let stuck = try await assignedAfterLeave(broker, topic: topic, leaveAfter: .seconds(1), within: .seconds(25))
            #expect(stuck == 0, "a correct broker hands the member left every partition within seconds (it got \(stuck))")
        }
    }

    /// Starts member A, waits until it owns the topic, starts member B, closes A after `leaveAfter`, and returns how
    /// many partitions B owns `within` later.
    private func assignedAfterLeave(_ broker: TansuBroker, topic: String, leaveAfter: Duration,
                                    within limit: Duration) async throws -> Int {
        let group = KafkaTesting.unique("leave")
        let first = try await TansuSupport.consumer(broker, topic: topic, group: group)
        let reading = Task { for try await _ in first.batches {} }
        try await waitUntil("the first member owns the topic", within: .seconds(30)) { first.assignment.count == 4 }
        let second = try await TansuSupport.consumer(broker, topic: topic, group: group)
        let secondReading = Task { for try await _ in second.batches {} }
        try await Task.sleep(for: leaveAfter)
        await first.close()
        reading.cancel()
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline && second.assignment.count < 4 { try await Task.sleep(for: .milliseconds(250)) }
        let owned = second.assignment.count
        await second.close()
        secondReading.cancel()
        return owned
    }
}
