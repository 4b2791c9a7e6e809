/// A lock shared by processes: a named lease with a random owner token.
///
/// Rules every implementation keeps: acquiring is one attempt (busy → `nil`, the caller retries later and
/// never skips the work); a lease expires unless renewed, so a crashed holder cannot block forever; renewal and
/// release succeed only for the owner's token (compare-and-expire, compare-and-delete), so a holder whose lease
/// ran out can never extend or delete the next holder's lock.
///
/// A lock narrows races; it does not make side effects exactly-once (a holder can pause past its lease). Keep
/// the effect itself idempotent (an ``IdempotencyStore``, a unique key, or ``LockLease/fencingToken``).
///
/// Implementations: `RedisLock` (KafkaWorkerRedis), `PostgresAdvisoryLock` (KafkaWorkerPostgres),
/// ``InMemoryLock`` (tests, one process). Use ``withLock(_:lease:_:)`` to run work under a renewed lease.
public protocol DistributedLock: Sendable {
    /// One attempt to take `name` for `lease`. `nil` when another owner holds it. Throws
    /// ``LockUnavailable`` when the lock service cannot be reached.
    func tryAcquire(_ name: String, lease: Duration) async throws -> LockLease?
    /// Extends the lease to `lease` from now if `held` still owns it; `false` when it no longer does.
    func renew(_ held: LockLease, lease: Duration) async throws -> Bool
    /// Releases the lock if `held` still owns it; `false` when it no longer did (it expired, maybe taken).
    @discardableResult
    func release(_ held: LockLease) async throws -> Bool
}

/// A held lock.
public struct LockLease: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// The random owner token; never logged.
    public let token: String
    /// A number that grows with every acquisition of `name`, where the implementation provides one: pass it
    /// with writes so the resource can refuse a stale holder.
    public let fencingToken: Int64?

    public init(name: String, token: String, fencingToken: Int64? = nil) {
        self.name = name
        self.token = token
        self.fencingToken = fencingToken
    }

    public var description: String { "LockLease(\(name))" }
}

/// The lock is held by another owner. Retried later; a busy lock never makes a record count as done.
public struct LockBusy: TransientDependencyError, CustomStringConvertible {
    public var name: String
    public var description: String { "lock \"\(name)\" is held by another owner; retrying later" }
}

/// The lease ran out (not renewed in time, or taken by another owner) while the work ran. The work was
/// cancelled where it checked for cancellation; the record is retried.
public struct LockLost: TransientDependencyError, CustomStringConvertible {
    public var name: String
    public var description: String { "lock \"\(name)\" was lost while the work ran; the work was cancelled and is retried" }
}

/// The lock service cannot be reached or answered with an error. Retried with backoff.
public struct LockUnavailable: TransientDependencyError, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "lock service unavailable: \(reason)" }
}
