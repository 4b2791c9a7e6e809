import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerRedis
import KafkaWorkerTesting
import Testing

@Suite(.enabled(if: TestServers.redisExpected, "needs Redis (./scripts/test starts one)"))
struct RedisLockTests {
    @Test func onlyTheOwnerRenewsOrReleasesAndAStaleHolderCannotReleaseTheNextOne() async throws {
        let lock = RedisLock(client: try TestServers.redis())
        let name = KafkaTesting.unique("lock")
        let first = try #require(try await lock.tryAcquire(name, lease: .milliseconds(300)))
        #expect(try await lock.tryAcquire(name, lease: .seconds(1)) == nil, "busy while held")
        try await Task.sleep(for: .milliseconds(450))
        // The first lease ran out; a new holder takes the lock.
        let second = try #require(try await lock.tryAcquire(name, lease: .seconds(5)))
        #expect(second.token != first.token)
        #expect(try #require(second.fencingToken) > (try #require(first.fencingToken)))
        // The stale holder's release and renewal are refused; the new holder keeps the lock.
        #expect(try await lock.release(first) == false)
        #expect(try await lock.renew(first, lease: .seconds(5)) == false)
        #expect(try await lock.tryAcquire(name, lease: .seconds(1)) == nil)
        #expect(try await lock.release(second) == true)
        #expect(try await lock.tryAcquire(name, lease: .seconds(1)) != nil)
    }

    @Test func renewalKeepsASlowHoldersLock() async throws {
        let lock = RedisLock(client: try TestServers.redis())
        let name = KafkaTesting.unique("slow")
        let intruders = Tally()
        // A 2 s lease renewed every ~667 ms leaves 1.3 s of slack for a busy machine (with a 1 s lease, one full
        // test run out of a dozen saw a renewal arrive after the lease had run out).
        let result = try await lock.withLock(name, lease: .seconds(2)) {
            // Run three leases long; meanwhile others keep trying.
            for _ in 0..<60 {
                try await Task.sleep(for: .milliseconds(100))
                if try await lock.tryAcquire(name, lease: .seconds(1)) != nil { intruders.add() }
            }
            return "done"
        }
        #expect(result == "done")
        #expect(intruders.value == 0)
        #expect(try await lock.tryAcquire(name, lease: .seconds(1)) != nil, "released at the end")
    }

    @Test func aLostLeaseCancelsTheWorkAndIsReported() async throws {
        let client = try TestServers.redis()
        let lock = RedisLock(client: client)
        let name = KafkaTesting.unique("lost")
        let finished = Tally()
        do {
            _ = try await lock.withLock(name, lease: .milliseconds(300)) {
                // Someone deletes the key (an operator, a failover): the next renewal finds it gone.
                try await client.send("DEL", name)
                try await Task.sleep(for: .seconds(5))
                finished.add()
            }
            Issue.record("a lost lease was not reported")
        } catch {
            #expect(error is LockLost, "\(error)")
        }
        #expect(finished.value == 0, "the work was cancelled")
    }

    @Test func busyIsRetriedNeverSkippedAndRedisDownIsAClearTransientError() async throws {
        let lock = RedisLock(client: try TestServers.redis())
        let name = KafkaTesting.unique("busy")
        let held = try #require(try await lock.tryAcquire(name, lease: .seconds(5)))
        do {
            _ = try await lock.withLock(name, lease: .seconds(1)) { "ran" }
            Issue.record("ran while another owner held the lock")
        } catch {
            #expect(error is LockBusy)
            #expect(error is any TransientDependencyError)
        }
        try await lock.release(held)
        // Nothing listens on this port: a bounded, clear, retriable error without the password.
        var configuration = try RedisClient.Configuration(url: "redis://:canary-secret@127.0.0.1:1")
        configuration.connectTimeout = .milliseconds(500)
        let down = RedisLock(client: try RedisClient(configuration: configuration))
        let started = ContinuousClock.now
        do {
            _ = try await down.tryAcquire(name, lease: .seconds(1))
            Issue.record("no error from an unreachable Redis")
        } catch let error as LockUnavailable {
            #expect(error.description.contains("Redis unavailable"))
            #expect(!error.description.contains("canary-secret"))
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        // A wrong password is refused with Redis's reason, not the password.
        var wrong = try RedisClient.Configuration(url: TestServers.redisURL ?? "")
        wrong.password = KafkaSecret("canary-wrong")
        do {
            _ = try await RedisLock(client: try RedisClient(configuration: wrong)).tryAcquire(name, lease: .seconds(1))
            Issue.record("a wrong password was accepted")
        } catch {
            #expect("\(error)".contains("WRONGPASS") || "\(error)".contains("invalid"), "\(error)")
            #expect(!"\(error)".contains("canary-wrong"))
        }
    }

    /// The source chapter's lock, `SET lock:<id> 1 EX 300 NX` … `DEL` in `finally`, with "busy → return" (and
    /// the offset committed), run as a control next to ours on the same read-modify-write workload: 20 increments
    /// of one counter, one holder pausing past the lease. The control must lose updates; ours must not.
    @Test func theSourcesSetNXPlusDelLosesUpdatesAndOursDoesNot() async throws {
        let client = try TestServers.redis()
        let lease = Duration.seconds(2)

        @Sendable func increment(_ counter: String, pause: Duration) async throws {
            let value = try await client.send("GET", counter).string.flatMap { Int($0) } ?? 0
            try await Task.sleep(for: pause)
            try await client.send("SET", counter, "\(value + 1)")
        }
        func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(index == 0 ? 0 : 20 + index * 5))
                        try await body(index)
                    }
                }
                try await group.waitForAll()
            }
        }

        // The control: the source's pattern.
        let seedCounter = KafkaTesting.unique("seed-counter"), seedLock = "lock:\(seedCounter)"
        let skipped = Tally()
        try await run { index in
            let taken = try await client.send("SET", seedLock, "1", "PX", "\(300)", "NX")
            guard taken.string == "OK" else {
                skipped.add()  // "lock busy → return": the message counts as done
                return
            }
            defer { Task { try? await client.send("DEL", seedLock) } }
            try await increment(seedCounter, pause: index == 0 ? .milliseconds(450) : .milliseconds(10))
        }
        let seedFinal = try await client.send("GET", seedCounter).string.flatMap { Int($0) } ?? 0
        #expect(seedFinal < 20, "the control must lose updates (skipped \(skipped.value))")

        // Ours: busy is retried, the slow holder's lease is renewed, release only by the owner.
        let lock = RedisLock(client: client)
        let counter = KafkaTesting.unique("counter")
        try await run { index in
            while true {
                do {
                    try await lock.withLock("lock:\(counter)", lease: lease) {
                        // The slow holder pauses 1.5 leases; renewal keeps its lock.
                        try await increment(counter, pause: index == 0 ? .milliseconds(3_000) : .milliseconds(10))
                    }
                    return
                } catch is LockBusy {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
        }
        #expect(try await client.send("GET", counter).string == "20")
    }

    @Test func aCommandWithoutReplyTimesOutAndTheClientReconnects() async throws {
        var configuration = try RedisClient.Configuration(url: try #require(TestServers.redisURL))
        configuration.commandTimeout = .milliseconds(200)
        let client = try RedisClient(configuration: configuration)
        // Connected first, so the time measured is the command's alone (connecting on a loaded machine took seconds).
        #expect(try await client.send("PING").string == "PONG")
        let started = ContinuousClock.now
        do {
            // Redis would answer after 30 s; the client gives up after 200 ms.
            try await client.send("BLPOP", KafkaTesting.unique("empty-list"), "30")
            Issue.record("a blocked command returned")
        } catch {
            #expect(error == .timeout(.milliseconds(200)))
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await client.send("PING").string == "PONG")
    }

    @Test func pipelinedCommandsAnswerInOrder() async throws {
        let client = try TestServers.redis()
        let key = KafkaTesting.unique("pipe")
        let replies = try await client.pipeline((1...50).map { _ in ["INCR", key] } + [["GET", key], ["NOSUCHCOMMAND"]])
        #expect(replies.prefix(50).map(\.integer) == (1...50).map { Int64($0) })
        #expect(replies[50].string == "50")
        if case .error = replies[51] {} else { Issue.record("an error reply was not returned as one") }
    }
}
