import Synchronization

/// What a store or lock keeps alive beyond a statement, for tests: timer tasks, and callbacks registered on
/// connections' close futures that have not fired yet.
package final class LiveCounters: Sendable {
    private let liveTimers = Atomic<Int>(0)
    private let liveCloseCallbacks = Atomic<Int>(0)

    package var timers: Int { liveTimers.load(ordering: .relaxed) }
    package var closeCallbacks: Int { liveCloseCallbacks.load(ordering: .relaxed) }

    func timerStarted() { liveTimers.add(1, ordering: .relaxed) }
    func timerEnded() { liveTimers.subtract(1, ordering: .relaxed) }
    func closeCallbackAdded() { liveCloseCallbacks.add(1, ordering: .relaxed) }
    func closeCallbackFired() { liveCloseCallbacks.subtract(1, ordering: .relaxed) }
}
