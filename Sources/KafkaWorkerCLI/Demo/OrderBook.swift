import Synchronization

/// The demo's "database": orders applied once each. A re-sent order is recognised and skipped.
/// (With an idempotency store the worker does this itself, durably.)
final class OrderBook: Sendable {
    private struct State {
        var applied: Set<String> = []
        var duplicates = 0
        var revenueCents = 0
    }

    private let state = Mutex(State())

    /// Applies an order; returns `false` for a duplicate.
    @discardableResult
    func apply(_ order: Order) -> Bool {
        state.withLock { state in
            guard state.applied.insert(order.orderId).inserted else {
                state.duplicates += 1
                return false
            }
            state.revenueCents += order.amountCents
            return true
        }
    }

    var applied: Int { state.withLock { $0.applied.count } }
    var duplicates: Int { state.withLock { $0.duplicates } }
}
