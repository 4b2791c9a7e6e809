import Synchronization

/// A counter concurrent tasks add to (calls, arrivals, failures seen).
public final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)
    public init() {}
    public func add() { count.add(1, ordering: .relaxed) }
    public var value: Int { count.load(ordering: .relaxed) }
}
