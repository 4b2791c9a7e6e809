import Synchronization

/// Resolves once with a value; any number of waiters, each with its own time limit. A waiter that gives up is
/// removed at its limit, so nothing waits past it (a task group around an unresolved continuation would).
public final class Latch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        /// Each waiter's time limit, cancelled when the value comes (so no sleeping task outlives the wait).
        var timers: [Int: Task<Void, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Sets the value and wakes every waiter; later calls are ignored.
    public func resolve(_ value: Value) {
        let (waiters, timers) = state.withLock { state -> ([CheckedContinuation<Value?, Never>], [Task<Void, Never>]) in
            guard state.value == nil else { return ([], []) }
            state.value = value
            defer {
                state.waiters = [:]
                state.timers = [:]
            }
            return (Array(state.waiters.values), Array(state.timers.values))
        }
        for timer in timers { timer.cancel() }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, or `nil` when it has not come within `limit`.
    public func wait(within limit: Duration) async -> Value? {
        await withCheckedContinuation { continuation in
            let waiter = state.withLock { state -> Int? in
                guard state.value == nil else { return nil }
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let waiter else {
                continuation.resume(returning: state.withLock { $0.value })
                return
            }
            let timer = Task { [self] in
                try? await Task.sleep(for: limit)
                let expired = state.withLock { state in
                    state.timers[waiter] = nil
                    return state.waiters.removeValue(forKey: waiter)
                }
                expired?.resume(returning: nil)
            }
            state.withLock { state in
                // Resolved meanwhile: the timer is not needed (resolve cancelled the others).
                if state.waiters[waiter] != nil { state.timers[waiter] = timer } else { timer.cancel() }
            }
        }
    }

    public var value: Value? { state.withLock { $0.value } }
    public var isResolved: Bool { value != nil }
}
