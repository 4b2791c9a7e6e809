import Synchronization

/// Resolves once with a value; any number of waiters, each with its own time limit. A waiter that gives up is
/// removed at its limit, so nothing waits past it (a task group around an unresolved continuation would).
public final class Latch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Sets the value and wakes every waiter; later calls are ignored.
    public func resolve(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
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
            Task { [self] in
                try? await Task.sleep(for: limit)
                let expired = state.withLock { $0.waiters.removeValue(forKey: waiter) }
                expired?.resume(returning: nil)
            }
        }
    }

    public var value: Value? { state.withLock { $0.value } }
    public var isResolved: Bool { value != nil }
}
