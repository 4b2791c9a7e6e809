import Synchronization

/// A counter tasks share.
final class Tally: Sendable {
    private let count = Mutex(0)
    func add(_ amount: Int = 1) { count.withLock { $0 += amount } }
    var value: Int { count.withLock { $0 } }
}
