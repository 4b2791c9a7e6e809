import Foundation
@testable import KafkaClient
import KafkaWorkerTesting
import Synchronization
import Testing

/// Rebalance state changes happen on the poll thread in the order of the rebalance: an assignment is known
/// before any of its records is handed over, and a pause never outlives its assignment.
@Suite("Rebalance ordering and pause flags", .timeLimit(.minutes(3)))
struct RebalanceOrderTests {
    @Test("no record is handed over before the assign hook returned, however long it takes")
    func assignHookRunsBeforeRecords() async throws {
        let topic = try KafkaTesting.topic("assign-first")
        try await KafkaTesting.produce(10, to: topic)
        var configuration = KafkaTesting.consumerConfiguration(group: KafkaTesting.unique("g"))
        configuration.rebalanceHookTimeout = .seconds(1)
        let hookReturned = Mutex<Date?>(nil)
        // A slow (synchronous) assign hook, longer than the hook timeout.
        let hooks = KafkaRebalanceHooks(onAssign: { _ in
            usleep(2_000_000)  // blocking on purpose: the hook is synchronous
            hookReturned.withLock { $0 = Date() }
        })
        let consumer = try KafkaConsumer(configuration: configuration, rebalanceHooks: hooks, logger: KafkaTesting.logger)
        try await consumer.subscribe(topics: [topic])
        let records = try await KafkaTesting.collect(10, from: consumer)
        let firstSeen = Date()
        await consumer.close()
        #expect(records.map(\.offset) == Array(0..<10))
        let returned = try #require(hookReturned.withLock { $0 }, "the first record arrived before the assign hook returned")
        #expect(returned <= firstSeen)
    }

    /// A pause lasts for an assignment. Eager: b joining revokes both of a's partitions and one comes back;
    /// b leaving revokes it again and both come back — unpaused each time. Cooperative: a keeps one partition
    /// (its assignment goes on, so it stays paused) and gives up the other, which comes back unpaused when b leaves.
    @Test("a partition revoked while paused comes back unpaused; one kept through the rebalance stays paused",
          arguments: [KafkaConsumerConfiguration.AssignmentStrategy.eager, .cooperativeSticky])
    func pauseDoesNotOutliveTheAssignment(strategy: KafkaConsumerConfiguration.AssignmentStrategy) async throws {
        let topic = try KafkaTesting.topic("pause-revoke", partitions: 2)
        try await KafkaTesting.produce(20, to: topic, partitions: 2)
        let group = KafkaTesting.unique("g")
        let a = try await KafkaTesting.consumer(subscribedTo: topic, group: group) { $0.assignmentStrategy = strategy }
        let revokedFromA = Mutex<Set<KafkaTopicPartition>>([])
        let history = Mutex<[String]>([])  // a's rebalances, for the failure message
        let clock = ContinuousClock(), start = clock.now
        let aEvents = Task {
            for await event in a.events where event.kind != .committed {
                history.withLock { $0.append("\(clock.now - start) \(event.kind) \(event.partitions.map(\.partition))") }
                if event.kind == .revoked || event.kind == .lost { revokedFromA.withLock { $0.formUnion(event.partitions) } }
            }
        }
        _ = try await KafkaTesting.collect(20, from: a)
        let paused = Set(a.assignment)
        #expect(paused.count == 2)
        a.pause(Array(paused))
        let seen = Mutex<[KafkaRecord]>([])
        let reader = Task {
            for try await batch in a.batches {
                seen.withLock { $0 += batch }
                a.storeOffsets(batch.nextOffsets)
            }
        }
        let b = try await KafkaTesting.consumer(subscribedTo: topic, group: group) { $0.assignmentStrategy = strategy }
        let bReader = Task {
            for try await batch in b.batches { b.storeOffsets(batch.nextOffsets) }
        }
        try await waitUntil("the two share the partitions", within: .seconds(40)) {
            a.assignment.count == 1 && b.assignment.count == 1
        }
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 20)
        bReader.cancel()
        await b.close()
        try await waitUntil("a owns both partitions again", within: .seconds(40)) { a.assignment.count == 2 }
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 40)
        let revoked = revokedFromA.withLock { $0 }
        #expect(!revoked.isEmpty, "b's joining revoked nothing of a's")
        do {
            try await waitUntil("a reads the newest records of every partition revoked since the pause: \(revoked)",
                                within: .seconds(15)) {
                let records = seen.withLock { $0 }
                return revoked.allSatisfy { partition in
                    records.contains { $0.topicPartition == partition && $0.offset >= 20 }
                }
            }
        } catch {
            var highest: [Int32: Int64] = [:]
            for record in seen.withLock({ $0 }) { highest[record.partition] = max(highest[record.partition] ?? -1, record.offset) }
            let rebalances = history.withLock { $0 }
            Issue.record("at \(clock.now - start): a owns \(a.assignment.map(\.partition)), highest offsets read \(highest), a's rebalances: \(rebalances)")
            throw error
        }
        if strategy == .eager {
            #expect(revoked == paused, "eager revokes everything")
        }
        // Never revoked (cooperative): still paused, so nothing after the pause point was read from it.
        for partition in paused.subtracting(revoked) {
            #expect(!seen.withLock { $0 }.contains { $0.topicPartition == partition && $0.offset >= 10 },
                    "\(partition) was paused and never revoked")
        }
        reader.cancel()
        await a.close()
        aEvents.cancel()
    }

    /// librdkafka pauses every assigned partition itself when it hands a rebalance to the application and resumes them
    /// in `incremental_assign`/`incremental_unassign`. A pause or resume of the application that takes its version
    /// before that pause but is queued after it is dropped as outdated, silently. Here the application resumes the
    /// partitions it paused as the first round revokes one (as the worker's back-pressure does when a revoke makes
    /// room), and the resume is held until librdkafka's pause for the next round is applied (``ResumeRaceHold``): the
    /// kept partition stayed paused for good (the worker's stall on 2.16, about 1 run in 50) until every rebalance
    /// callback sent the pause flags of its kept partitions again.
    @Test("a resume dropped by librdkafka's own pause at the next cooperative round is sent again: the kept partition flows")
    func resumeOvertakenByLibraryPause() async throws {
        let topic = try KafkaTesting.topic("resume-race", partitions: 2)
        try await KafkaTesting.produce(20, to: topic, partitions: 2)  // offsets 0..<10 in each partition
        let group = KafkaTesting.unique("g")
        let hold = ResumeRaceHold(topic: topic)
        let consumer = Mutex<KafkaConsumer?>(nil)
        var configuration = KafkaTesting.consumerConfiguration(group: group)
        configuration.assignmentStrategy = .cooperativeSticky
        configuration.connection.additionalProperties["debug"] = "cgrp,topic"
        // The first revoke: everything paused is resumed (applied after the callback, or in it).
        let hooks = KafkaRebalanceHooks(onRevoke: { _, lost in
            guard !lost, hold.arm(), let a = consumer.withLock({ $0 }) else { return }
            a.resume(a.assignment)
        })
        let a = try KafkaConsumer(configuration: configuration, rebalanceHooks: hooks, logger: hold.logger)
        consumer.withLock { $0 = a }
        try await a.subscribe(topics: [topic])
        _ = try await KafkaTesting.collect(20, from: a)
        let partitions = a.assignment
        #expect(partitions.count == 2)
        a.pause(partitions)
        try await waitUntil("a's pause is applied") { a.core.state.withLock { $0.appliedPaused == Set(partitions) } }
        let seen = Mutex<[KafkaRecord]>([])
        let reader = Task {
            for try await batch in a.batches {
                seen.withLock { $0 += batch }
                a.storeOffsets(batch.nextOffsets)
            }
        }
        let b = try await KafkaTesting.consumer(subscribedTo: topic, group: group) { $0.assignmentStrategy = .cooperativeSticky }
        let bReader = Task {
            for try await batch in b.batches { b.storeOffsets(batch.nextOffsets) }
        }
        try await waitUntil("the two share the partitions", within: .seconds(40)) {
            a.assignment.count == 1 && b.assignment.count == 1
        }
        let kept = try #require(a.assignment.first)
        try await KafkaTesting.produce(20, to: topic, partitions: 2, from: 20)  // 10..<20
        let forced = hold.state.withLock { ($0.held?.partition, $0.libraryPauseFirst, $0.resumeDropped) }
        #expect(forced.0 == kept.partition, "the resume of the kept partition was held")
        #expect(forced.1, "librdkafka's pause for the next round was applied before the held resume was queued")
        #expect(forced.2, "librdkafka dropped the held resume as outdated")
        do {
            try await waitUntil("a reads the last record of \(kept), the partition it kept", within: .seconds(15)) {
                seen.withLock { $0 }.contains { $0.topicPartition == kept && $0.offset == 19 }
            }
        } catch {
            Issue.record("a read \(seen.withLock { $0 }.filter { $0.topicPartition == kept }.map(\.offset)) of \(kept) since its pause")
            throw error
        }
        reader.cancel()
        bReader.cancel()
        await b.close()
        await a.close()
    }
}
