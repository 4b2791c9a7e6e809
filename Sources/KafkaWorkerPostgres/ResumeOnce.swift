import Synchronization

/// Hands the first value offered to the one waiter; later ones are dropped. The value may come before the wait.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Value, Never>?, early: Value?, done: Bool)>((nil, nil, false))

    /// Waits for the first value (returns at once if it came already).
    func wait() async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let early: Value? = state.withLock { state in
                if let early = state.early { return early }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    /// Returns `true` if this value was the first.
    @discardableResult
    func finish(_ value: Value) -> Bool {
        let (first, continuation) = state.withLock { state -> (Bool, CheckedContinuation<Value, Never>?) in
            guard !state.done else { return (false, nil) }
            state.done = true
            guard let continuation = state.continuation else {
                state.early = value
                return (true, nil)
            }
            state.continuation = nil
            return (true, continuation)
        }
        continuation?.resume(returning: value)
        return first
    }
}
