import Synchronization

/// A ``DistributedLock`` inside one process, for tests: the same lease, token and fencing rules as the real ones.
public final class InMemoryLock: DistributedLock {
    private struct Entry { var token: String; var expires: ContinuousClock.Instant }
    private let entries = Mutex<(held: [String: Entry], fencing: Int64)>(([:], 0))

    public init() {}

    public func tryAcquire(_ name: String, lease: Duration) async throws -> LockLease? {
        let now = ContinuousClock.now
        let token = LockToken.random()
        return entries.withLock { state -> LockLease? in
            if let entry = state.held[name], entry.expires > now { return nil }
            state.held[name] = Entry(token: token, expires: now + lease)
            state.fencing += 1
            return LockLease(name: name, token: token, fencingToken: state.fencing)
        }
    }

    public func renew(_ held: LockLease, lease: Duration) async throws -> Bool {
        let now = ContinuousClock.now
        return entries.withLock { state in
            guard let entry = state.held[held.name], entry.token == held.token, entry.expires > now else { return false }
            state.held[held.name]?.expires = now + lease
            return true
        }
    }

    @discardableResult
    public func release(_ held: LockLease) async throws -> Bool {
        let now = ContinuousClock.now
        return entries.withLock { state in
            guard let entry = state.held[held.name], entry.token == held.token, entry.expires > now else { return false }
            state.held[held.name] = nil
            return true
        }
    }
}

/// Random owner tokens: 128 bits from the system's generator, as hex.
public enum LockToken {
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
