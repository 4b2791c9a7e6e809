public import KafkaWorker
public import Logging
public import PostgresNIO
import Synchronization

/// A ``DistributedLock`` on PostgreSQL session advisory locks (`pg_try_advisory_lock`).
///
/// Each held lock keeps one dedicated connection from the pool until it is released; the lock lives exactly as
/// long as that session. Renewal checks that the session still holds it (`pg_locks`), so a dropped connection
/// shows up as a lost lease. The lease duration has no meaning on the server: a holder that hangs while its
/// connection stays open keeps the lock; the server frees it when the connection drops (crash, network).
/// Lock names are hashed to 64-bit keys (FNV-1a). Fencing tokens are not provided.
public final class PostgresAdvisoryLock: DistributedLock {
    public let client: PostgresClient
    private let logger: Logger
    private let holders = Mutex<[String: Holder]>([:])
    /// For tests: reply timers still alive, and close callbacks registered on connections and not yet fired.
    package let counters: LiveCounters
    private let closeWatch: CloseWatch

    public init(client: PostgresClient, logger: Logger = Logger(label: "kafka-worker.postgres-lock")) {
        self.client = client
        self.logger = logger
        let counters = LiveCounters()
        self.counters = counters
        closeWatch = CloseWatch(counters: counters)
    }

    public func tryAcquire(_ name: String, lease: Duration) async throws -> LockLease? {
        let key = Self.key(name)
        let token = LockToken.random()
        let holder = Holder(counters: counters)
        let acquired: Bool = try await withCheckedThrowingContinuation { continuation in
            Task { [client, logger, closeWatch] in
                do {
                    try await client.withConnection { connection in
                        let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger)
                        var got = false
                        for try await value in rows.decode(Bool.self) { got = value }
                        holder.answer(continuation, .success(got))
                        guard got else { return }
                        // A dropped session ends the holder at once (statements on it may never return). The watch
                        // ends with the lock: the pooled connection outlives it.
                        let watch = closeWatch.register(connection) { holder.end() }
                        defer { closeWatch.remove(watch) }
                        // Serve renewals and the release on this connection until released.
                        for await command in holder.commands {
                            switch command {
                            case .check(let reply):
                                reply(try? await Self.holds(key, connection, logger))
                            case .release(let reply):
                                let rows = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                                var released = false
                                if let rows { for try await value in rows.decode(Bool.self) { released = value } }
                                reply(released)
                                return
                            }
                        }
                    }
                } catch {
                    // Before the answer this reports the failure; after it, the lock is lost with its connection.
                    holder.answer(continuation, .failure(PostgresErrorClassifier.classify(error)))
                }
                await holder.finish()
            }
        }
        guard acquired else { return nil }
        holders.withLock { $0[token] = holder }
        return LockLease(name: name, token: token)
    }

    public func renew(_ held: LockLease, lease: Duration) async throws -> Bool {
        guard let holder = holders.withLock({ $0[held.token] }) else { return false }
        guard let holds = await holder.send(Holder.check) else {
            throw LockUnavailable(reason: "cannot reach PostgreSQL to confirm the advisory lock")
        }
        if !holds { _ = holders.withLock { $0.removeValue(forKey: held.token) } }
        return holds
    }

    @discardableResult
    public func release(_ held: LockLease) async throws -> Bool {
        guard let holder = holders.withLock({ $0.removeValue(forKey: held.token) }) else { return false }
        return await holder.send(Holder.release) ?? false
    }

    private static func holds(_ key: Int64, _ connection: PostgresConnection, _ logger: Logger) async throws -> Bool {
        let classID = Int64(UInt64(bitPattern: key) >> 32)
        let objectID = key & 0xFFFF_FFFF
        let rows = try await connection.query("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
              AND classid::bigint = \(classID) AND objid::bigint = \(objectID) AND objsubid = 1
            """, logger: logger)
        var count: Int64 = 0
        for try await value in rows.decode(Int64.self) { count = value }
        return count > 0
    }

    /// FNV-1a over the name's UTF-8 bytes.
    static func key(_ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return Int64(bitPattern: hash)
    }
}

/// The task that keeps a lock's connection, and the commands sent to it.
private final class Holder: Sendable {
    enum Command: Sendable {
        case check(@Sendable (Bool?) -> Void)
        case release(@Sendable (Bool?) -> Void)
    }
    static func check(_ reply: @escaping @Sendable (Bool?) -> Void) -> Command { .check(reply) }
    static func release(_ reply: @escaping @Sendable (Bool?) -> Void) -> Command { .release(reply) }

    let commands: AsyncStream<Command>
    private let continuation: AsyncStream<Command>.Continuation
    private let answered = OnceFlag()
    private let counters: LiveCounters

    init(counters: LiveCounters) {
        self.counters = counters
        (commands, continuation) = AsyncStream.makeStream(of: Command.self)
    }

    /// Sends a command and waits for its reply; `nil` when the holder is gone, did not answer within 5 s, or the
    /// caller was cancelled. The timer is a child task that ends with the reply.
    func send(_ make: (@escaping @Sendable (Bool?) -> Void) -> Command) async -> Bool? {
        let reply = ResumeOnce<Bool?>()
        if case .terminated = continuation.yield(make { reply.finish($0) }) { return nil }
        let counters = self.counters
        return await withTaskGroup(of: Void.self) { timer in
            timer.addTask {
                counters.timerStarted()
                defer { counters.timerEnded() }
                try? await Task.sleep(for: .seconds(5))
                reply.finish(nil)
            }
            let value = await reply.wait()
            timer.cancelAll()
            return value
        }
    }

    /// Ends the command stream (the connection closed): commands sent from now on are answered `nil`.
    func end() { continuation.finish() }

    /// Ends the holder: commands sent from now on, or not served, are answered `nil`.
    func finish() async {
        continuation.finish()
        for await command in commands {
            switch command {
            case .check(let reply), .release(let reply): reply(nil)
            }
        }
    }

    /// Resumes the acquirer once; later answers are dropped.
    func answer(_ continuation: CheckedContinuation<Bool, any Error>, _ result: Result<Bool, any Error>) {
        if answered.claim() { continuation.resume(with: result) }
    }
}

/// True for the first caller of ``claim()`` only.
private final class OnceFlag: Sendable {
    private let done = Mutex(false)
    func claim() -> Bool { done.withLock { done in defer { done = true }; return !done } }
}
