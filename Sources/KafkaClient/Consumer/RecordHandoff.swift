import Dispatch
import Synchronization

/// What the hand-off carries: a batch of records, or of messages still to be converted.
protocol HandoffBatch: Sendable {
    var count: Int { get }
    /// Bytes of its keys and values.
    var byteCount: Int { get }
    /// The batch without the records of `partitions` (revoked: their new owner reads them again).
    func removing(_ partitions: Set<KafkaTopicPartition>) -> Self
}

extension Array: HandoffBatch where Element == KafkaRecord {
    var byteCount: Int { reduce(0) { $0 + $1.byteCount } }

    func removing(_ partitions: Set<KafkaTopicPartition>) -> [KafkaRecord] {
        filter { !partitions.contains($0.topicPartition) }
    }
}

/// The bounded hand-off of batches from the poll thread to the application.
///
/// The poll thread pushes without blocking (it must keep serving the group) and checks `isAboveHigh`
/// to pause fetching; the reader is told (`onLow`) when the buffer falls to the low watermark so fetching resumes.
final class RecordHandoff<Batch: HandoffBatch>: Sendable {
    private struct State {
        var batches: [Batch?] = []
        var head = 0
        var count = 0
        var bytes = 0
        var waiter: CheckedContinuation<Batch?, any Error>?
        var finished = false
        var failure: KafkaError?
        /// The poll thread waits in ``waitForRoom(timeout:)``.
        var pollerWaiting = false

        /// The oldest non-empty batch (purges can leave empty ones behind).
        mutating func popBatch() -> Batch? {
            while head < batches.count {
                let batch = batches[head]
                batches[head] = nil
                head += 1
                if head > 64 && head * 2 > batches.count {
                    batches.removeFirst(head)
                    head = 0
                }
                if let batch, batch.count > 0 {
                    count -= batch.count
                    bytes -= batch.byteCount
                    return batch
                }
            }
            return nil
        }
    }

    private let state = Mutex(State())
    private let room = DispatchSemaphore(value: 0)
    let highWatermark: Int
    let lowWatermark: Int
    let highWatermarkBytes: Int
    let lowWatermarkBytes: Int

    init(highWatermark: Int, lowWatermark: Int, highWatermarkBytes: Int = .max, lowWatermarkBytes: Int = .max - 1) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.highWatermarkBytes = highWatermarkBytes
        self.lowWatermarkBytes = lowWatermarkBytes
    }

    /// Records buffered and not yet taken by the application.
    var count: Int { state.withLock { $0.count } }
    /// Their bytes (keys + values).
    var bytes: Int { state.withLock { $0.bytes } }
    /// At or above either high watermark (records or bytes).
    var isAboveHigh: Bool { state.withLock { $0.count >= highWatermark || $0.bytes >= highWatermarkBytes } }

    /// At or below both low watermarks.
    var isLow: Bool { state.withLock { isLow($0) } }
    private func isLow(_ state: State) -> Bool { state.count <= lowWatermark && state.bytes <= lowWatermarkBytes }

    /// Hands a batch to the reader (poll thread). Never blocks.
    func push(_ batch: Batch) {
        let waiter: CheckedContinuation<Batch?, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.batches.append(batch)
            state.count += batch.count
            state.bytes += batch.byteCount
            return nil
        }
        waiter?.resume(returning: batch)
    }

    /// Blocks the poll thread until the reader has taken the buffer down to the low watermark, for at most
    /// `timeout`. Returns `false` on timeout (the reader is slow: the caller pauses fetching).
    func waitForRoom(timeout: Duration) -> Bool {
        let mustWait = state.withLock { state -> Bool in
            guard !isLow(state), !state.finished else { return false }
            state.pollerWaiting = true
            return true
        }
        guard mustWait else { return true }
        let woken = room.wait(timeout: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) == .success
        let stillWaiting = state.withLock { state -> Bool in
            defer { state.pollerWaiting = false }
            return state.pollerWaiting
        }
        // Woken by the reader, or the reader signalled just after the timeout: consume that signal.
        if !woken && !stillWaiting { room.wait() }
        return woken || !stillWaiting
    }

    /// Wakes the poll thread if it waits for room and the buffer is at the low watermark (reader side).
    private func signalRoomIfWaited(_ state: inout State) -> Bool {
        guard state.pollerWaiting, isLow(state) else { return false }
        state.pollerWaiting = false
        return true
    }

    /// Drops buffered records of `partitions` (they were revoked: their new owner reads them again).
    func purge(_ partitions: Set<KafkaTopicPartition>) {
        state.withLock { state in
            for index in state.head..<state.batches.count {
                guard let batch = state.batches[index] else { continue }
                let kept = batch.removing(partitions)
                state.count -= batch.count - kept.count
                state.bytes -= batch.byteCount - kept.byteCount
                state.batches[index] = kept
            }
        }
    }

    /// Drops everything buffered (at close: no buffered message may outlive the client that polled it).
    func purgeAll() {
        let dropped = state.withLock { state -> [Batch?] in
            defer {
                state.batches.removeAll()
                state.head = 0
                state.count = 0
                state.bytes = 0
            }
            return state.batches
        }
        _ = dropped  // released here, outside the lock
    }

    /// Ends the sequence: the reader gets what is buffered, then `nil` (or `error`).
    func finish(error: KafkaError? = nil) {
        let waiter: CheckedContinuation<Batch?, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            if state.pollerWaiting {
                state.pollerWaiting = false
                room.signal()
            }
            state.failure = error
            defer { state.waiter = nil }
            return state.waiter
        }
        if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
    }

    /// The next batch, waiting for one; `nil` once finished and drained.
    /// `onLow` runs (outside the lock) when the buffer is at or below the low watermark.
    private enum Immediate { case batch(Batch, low: Bool), end(KafkaError?), wait, secondReader }

    func next(onLow: () -> Void) async throws -> Batch? {
        let immediate: Immediate = state.withLock { state in
            if let batch = state.popBatch() {
                if signalRoomIfWaited(&state) { room.signal() }
                return .batch(batch, low: isLow(state))
            }
            if state.finished {
                defer { state.failure = nil }
                return .end(state.failure)
            }
            return .wait
        }
        switch immediate {
        case .batch(let batch, let low):
            if low { onLow() }
            return batch
        case .end(let error):
            if let error { throw error }
            return nil
        case .wait, .secondReader:
            onLow()
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let resumeNow: Immediate = state.withLock { state in
                        if Task.isCancelled { return .end(nil) }
                        if let batch = state.popBatch() { return .batch(batch, low: true) }
                        if state.finished { return .end(state.failure) }
                        // One reader: a second one would take the first one's place and leave it waiting for good.
                        if state.waiter != nil { return .secondReader }
                        state.waiter = continuation
                        return .wait
                    }
                    switch resumeNow {
                    case .secondReader:
                        continuation.resume(throwing: KafkaError(
                            code: .state, operation: "read batches",
                            message: "another task is already reading this consumer's records; use one reader"))
                    case .batch(let batch, _): continuation.resume(returning: batch)
                    case .end(let error):
                        if Task.isCancelled { continuation.resume(throwing: CancellationError()) }
                        else if let error { continuation.resume(throwing: error) }
                        else { continuation.resume(returning: nil) }
                    case .wait: break
                    }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(throwing: CancellationError())
            }
        }
    }
}
