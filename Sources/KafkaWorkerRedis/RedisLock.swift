import KafkaClient
public import KafkaWorker

/// A ``DistributedLock`` on one Redis server.
///
/// - acquire: `SET name token NX PX lease` with a random 128-bit token, and a fencing token from `INCR
///   name:fence`, in one script;
/// - renew: `PEXPIRE` only if the value is still our token (compare-and-expire script);
/// - release: `DEL` only if the value is still our token (compare-and-delete script).
///
/// Redis unreachable or answering with an error is ``LockUnavailable`` (the worker retries it). One Redis server
/// is a single point of failure: a failover that loses the key lets a second holder in; the fencing token and the
/// idempotency store are what keep effects single then.
public final class RedisLock: DistributedLock {
    public let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    static let acquireScript = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
        return 0
        """
    static let renewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """
    static let releaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """

    public func tryAcquire(_ name: String, lease: Duration) async throws -> LockLease? {
        let token = LockToken.random()
        let fencing = try await integer("EVAL", Self.acquireScript, "2", name, "\(name):fence", token, Self.milliseconds(lease))
        return fencing > 0 ? LockLease(name: name, token: token, fencingToken: fencing) : nil
    }

    public func renew(_ held: LockLease, lease: Duration) async throws -> Bool {
        try await integer("EVAL", Self.renewScript, "1", held.name, held.token, Self.milliseconds(lease)) == 1
    }

    @discardableResult
    public func release(_ held: LockLease) async throws -> Bool {
        try await integer("EVAL", Self.releaseScript, "1", held.name, held.token) == 1
    }

    private func integer(_ command: String...) async throws(LockUnavailable) -> Int64 {
        let reply: RESPValue
        do {
            reply = try await client.pipeline([command])[0]
        } catch {
            throw LockUnavailable(reason: error.description)
        }
        guard let value = reply.integer else {
            throw LockUnavailable(reason: "unexpected reply from Redis: \(reply)")
        }
        return value
    }

    static func milliseconds(_ duration: Duration) -> String { "\(max(1, duration.wholeMilliseconds))" }
}
