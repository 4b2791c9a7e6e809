import Foundation
import KafkaClient
import Logging

/// Runs records through the handler: retries with backoff (keeping the record's place), non-retriable
/// errors straight to the dead-letter topic, and a dead letter that fails to publish retried until it is
/// published — a record is only ever *finished* (handled or dead-lettered) or *abandoned* (stop, revoke).
struct RecordRunner: Sendable {
    let handler: RecordHandler
    let retry: RetryPolicy
    let watchdog: WatchdogConfiguration
    let deadLetters: DeadLetterPublisher?
    let clock: any Clock<Duration>
    let randomUnit: @Sendable () -> Double
    let events: WorkerEventSink
    let metrics: WorkerMetrics
    /// Fired on every revoke and on stop, so that sleeping records re-check whether they still count.
    let wakeup: WorkerSignal
    /// With an idempotency store: whether a position was dead-lettered before, and recording that it was — so a
    /// redelivered record is not dead-lettered twice.
    var deadLetterMarks: (was: @Sendable (KafkaRecord) async throws -> Bool,
                          mark: @Sendable (KafkaRecord) async throws -> Void)? = nil

    /// Finished (handled, skipped as a duplicate, or dead-lettered) or abandoned (stop, revoke: not finished, so
    /// never committed).
    enum Outcome: Sendable, Equatable { case handled, duplicate, deadLettered, abandoned }

    /// Runs one record with a per-record handler. `onRetry` runs once, before the first backoff.
    func run(_ record: KafkaRecord, stillCurrent: @Sendable () -> Bool, onRetry: () -> Void = {}) async -> Outcome {
        guard case .perRecord(let handle) = handler else { preconditionFailure("per-record runner for a batch handler") }
        var attempt = 1
        while true {
            do {
                let duplicate: Bool
                if watchdog.action == .cancelAndRetry {
                    let current = attempt
                    duplicate = try await invokeWithDeadline(record) { try await handle(record, current) }
                } else {
                    duplicate = try await handle(record, attempt)
                }
                if duplicate { skippedDuplicate(record.position) }
                return duplicate ? .duplicate : .handled
            } catch {
                guard stillCurrent() else { return .abandoned }
                failedAttempt(record, error: error)
                if attempt == 1 { onRetry() }
                if let next = await retryOrGiveUp(record, error: error, attempt: attempt, stillCurrent: stillCurrent) {
                    if next == 0 { return .abandoned }
                    attempt = next
                    continue
                }
                return await deadLetter(record, error: error, attempts: attempt, stillCurrent: stillCurrent)
            }
        }
    }

    /// Runs records with a batch handler. Returns the offsets finished, in order, until one was abandoned,
    /// and how many of them were dead-lettered.
    func runBatch(_ records: [KafkaRecord], stillCurrent: @Sendable () -> Bool) async -> (finished: [Int64], deadLettered: Int) {
        guard case .perBatch(let handle) = handler else { preconditionFailure("batch runner for a per-record handler") }
        var attempt = 1
        while true {
            do {
                let outcome = try await handle(records, attempt)
                let undecodable = outcome.rejected
                metrics.duplicatesSkipped(outcome.duplicates)
                var finished = records.map(\.offset)
                for (count, (index, error)) in undecodable.enumerated() {
                    if await deadLetter(records[index], error: error, attempts: 1, stillCurrent: stillCurrent) == .abandoned {
                        finished.removeAll { $0 >= records[index].offset }
                        return (finished, count)
                    }
                }
                return (finished, undecodable.count)
            } catch {
                guard stillCurrent() else { return ([], 0) }
                failedAttempt(records[0], error: error)
                if records.count > 1 && !error.retriesWithoutLimit && (!error.isRetriable || attempt >= retry.maxAttempts) {
                    // Find the records that fail: each one alone, with its own attempts and dead letter.
                    return await runOneByOne(records, handle: handle, stillCurrent: stillCurrent)
                }
                if let next = await retryOrGiveUp(records[0], error: error, attempt: attempt, stillCurrent: stillCurrent) {
                    if next == 0 { return ([], 0) }
                    attempt = next
                    continue
                }
                return await deadLetter(records[0], error: error, attempts: attempt, stillCurrent: stillCurrent) == .abandoned
                    ? ([], 0) : ([records[0].offset], 1)
            }
        }
    }

    private func runOneByOne(_ records: [KafkaRecord],
                             handle: @escaping @Sendable ([KafkaRecord], Int) async throws -> RecordHandler.BatchOutcome,
                             stillCurrent: @Sendable () -> Bool) async -> (finished: [Int64], deadLettered: Int) {
        var finished: [Int64] = []
        var deadLettered = 0
        let single = RecordRunner(handler: .perRecord { record, attempt in
            let outcome = try await handle([record], attempt)
            if let (_, error) = outcome.rejected.first { throw error }
            return outcome.duplicates > 0
        }, retry: retry, watchdog: watchdog, deadLetters: deadLetters, clock: clock, randomUnit: randomUnit,
           events: events, metrics: metrics, wakeup: wakeup, deadLetterMarks: deadLetterMarks)
        for record in records {
            let outcome = await single.run(record, stillCurrent: stillCurrent)
            guard outcome != .abandoned else { break }
            if outcome == .deadLettered { deadLettered += 1 }
            finished.append(record.offset)
        }
        return (finished, deadLettered)
    }

    /// After a failed attempt: the next attempt number once the backoff has passed, `0` if the record was
    /// abandoned while waiting, or `nil` to give up (dead-letter it).
    private func retryOrGiveUp(_ record: KafkaRecord, error: any Error, attempt: Int,
                               stillCurrent: @Sendable () -> Bool) async -> Int? {
        let giveUp = !error.isRetriable || (attempt >= retry.maxAttempts && !error.retriesWithoutLimit)
        if giveUp && deadLetters != nil { return nil }
        // Without a dead-letter topic nothing is skipped: keep retrying at the longest backoff.
        let delay = giveUp ? retry.maxBackoff : retry.delay(afterAttempt: attempt, unit: randomUnit())
        metrics.retried()
        events.emit(WorkerEvent(kind: .retrying, record: record.position, attempts: attempt, delay: delay,
                                error: deadLetters?.describe(error) ?? String(describing: error)))
        return await sleep(delay, stillCurrent: stillCurrent) ? attempt + 1 : 0
    }

    /// Publishes a dead letter, retrying with backoff while publishing fails. The record stays unfinished
    /// (and blocks what comes after it) until the delivery report arrives.
    private func deadLetter(_ record: KafkaRecord, error: any Error, attempts: Int,
                            stillCurrent: @Sendable () -> Bool) async -> Outcome {
        guard let deadLetters else { preconditionFailure("dead-lettering without a publisher") }
        // Delivered again after its dead letter was published (its commit did not happen): skipped. When the store
        // cannot tell, the record is dead-lettered (again, perhaps): at least once.
        if let marks = deadLetterMarks, (try? await marks.was(record)) == true {
            metrics.duplicatesSkipped(1)
            events.emit(WorkerEvent(kind: .duplicateSkipped, record: record.position,
                                    message: "already dead-lettered (delivered again); skipped"))
            return .duplicate
        }
        var failures = 0
        while true {
            do throws(KafkaError) {
                try await deadLetters.publish(record, error: error, attempts: attempts)
                // After the publish, never before: a crash between the two dead-letters the record twice, where the
                // other order could mark it processed without a dead letter.
                if let marks = deadLetterMarks {
                    do { try await marks.mark(record) } catch {
                        events.emit(WorkerEvent(kind: .deadLetterFailed, record: record.position, attempts: attempts,
                                                error: String(describing: error),
                                                message: "dead letter published, but not marked in the idempotency store; "
                                                    + "a redelivery dead-letters it again"))
                    }
                }
                metrics.deadLettered()
                events.emit(WorkerEvent(kind: .deadLettered, record: record.position, attempts: attempts,
                                        error: deadLetters.describe(error),
                                        message: "record dead-lettered to \(deadLetters.configuration.topicName(record.topic))"))
                return .deadLettered
            } catch {
                failures += 1
                metrics.deadLetterFailed()
                let delay = retry.delay(afterAttempt: failures, unit: randomUnit())
                events.emit(WorkerEvent(kind: .deadLetterFailed, record: record.position, attempts: attempts,
                                        delay: delay, error: error.description,
                                        message: "dead letter not published; the record stays unfinished"))
                guard stillCurrent(), await sleep(delay, stillCurrent: stillCurrent) else { return .abandoned }
            }
        }
    }

    private func skippedDuplicate(_ position: KafkaTopicPartitionOffset) {
        metrics.duplicatesSkipped(1)
        events.emit(WorkerEvent(kind: .duplicateSkipped, record: position, message: "already processed; skipped"))
    }

    private func failedAttempt(_ record: KafkaRecord, error: any Error) {
        metrics.failedAttempt()
        if let lost = error as? LockLost {
            metrics.lockLost()
            events.emit(WorkerEvent(kind: .lockLost, record: record.position, error: lost.description,
                                    message: "lock lease lost while the handler ran; the handler was cancelled"))
        }
    }

    /// Calls the handler under the watchdog's cancel-and-retry deadline; returns what the handler returned.
    private func invokeWithDeadline(_ record: KafkaRecord, _ body: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = watchdog.deadline
        return try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask { try await body() }
            group.addTask { [clock] in
                try await clock.sleep(for: deadline)
                return nil
            }
            let completed = try await group.next()!
            group.cancelAll()
            guard let completed else {
                metrics.watchdogFired()
                events.emit(WorkerEvent(kind: .watchdog, record: record.position,
                                        message: "handler exceeded the \(deadline) deadline; cancelling it"))
                throw HandlerDeadlineExceeded(deadline: deadline)
            }
            return completed
        }
    }

    /// Waits `delay` on the clock. Returns `false` if the record no longer counts (revoked, stopping).
    func sleep(_ delay: Duration, stillCurrent: @Sendable () -> Bool) async -> Bool {
        let generation = wakeup.generation
        guard stillCurrent() else { return false }
        let started = ContinuousClock.now
        let slept = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [clock] in (try? await clock.sleep(for: delay)) != nil }
            group.addTask { [wakeup] in
                await wakeup.wait(since: generation)
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        guard stillCurrent(), !Task.isCancelled else { return false }
        // Woken for another partition's revoke: this record still counts, so wait out the rest.
        let remaining = delay - (ContinuousClock.now - started)
        return slept || remaining <= .zero ? true : await sleep(remaining, stillCurrent: stillCurrent)
    }
}

extension KafkaRecord {
    /// Where the record is: its topic, partition and own offset.
    var position: KafkaTopicPartitionOffset { KafkaTopicPartitionOffset(topic: topic, partition: partition, offset: offset) }
}
