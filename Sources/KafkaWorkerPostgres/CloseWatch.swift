import PostgresNIO
import Synchronization

/// Runs actions when their connection closes, with one `closeFuture` callback per connection for as long as it
/// lives. A callback per statement or per lock would pile up on a pooled connection that lives for hours (a
/// future keeps its callbacks, and what they capture, until it completes).
final class CloseWatch: Sendable {
    struct Registration: Sendable {
        fileprivate let connection: PostgresConnection.ID
        fileprivate let token: Int
    }

    private struct State {
        /// Per watched connection (by the pool's connection ID), the actions waiting for its close.
        var watched: [PostgresConnection.ID: [Int: @Sendable () -> Void]] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())
    private let counters: LiveCounters

    init(counters: LiveCounters) {
        self.counters = counters
    }

    /// Runs `action` once when `connection` closes (at once if it has already), unless ``remove(_:)`` comes first.
    func register(_ connection: PostgresConnection, _ action: @escaping @Sendable () -> Void) -> Registration {
        let id = connection.id
        let (token, first) = state.withLock { state in
            defer { state.nextToken += 1 }
            let first = state.watched[id] == nil
            state.watched[id, default: [:]][state.nextToken] = action
            return (state.nextToken, first)
        }
        if first {
            counters.closeCallbackAdded()
            // On a future that has completed already this runs at once: a closed connection is never watched.
            connection.closeFuture.whenComplete { [self] _ in closed(id) }
        }
        return Registration(connection: id, token: token)
    }

    func remove(_ registration: Registration) {
        _ = state.withLock { $0.watched[registration.connection]?.removeValue(forKey: registration.token) }
    }

    private func closed(_ id: PostgresConnection.ID) {
        let actions = state.withLock { $0.watched.removeValue(forKey: id) }
        counters.closeCallbackFired()
        if let actions { for action in actions.values { action() } }
    }
}
