import Synchronization

/// A one-way broadcast: `fire()` wakes every waiter; with `latching`, waits after the first fire return at once.
final class WorkerSignal: Sendable {
    private struct State {
        var fired = false
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    private let latching: Bool

    init(latching: Bool) { self.latching = latching }

    var hasFired: Bool { state.withLock { $0.fired } }

    /// How many times it fired; pass it to ``wait(since:)`` to not miss a fire that happens before the wait.
    var generation: Int { state.withLock { $0.generation } }

    func fire() {
        let waiters = state.withLock { state in
            if latching { state.fired = true }
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when fired (or at once if latched, or if it fired since `generation`), or when the task is cancelled.
    func wait(since generation: Int? = nil) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.fired || Task.isCancelled { return true }
                    if let generation, generation != state.generation { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
