import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerTesting
import PostgresNIO
import Testing

/// Serialized: one test restarts the server, which would break the others' connections.
@Suite(.serialized, .enabled(if: TestServers.postgresExpected, "needs PostgreSQL (./scripts/test starts one)"))
struct PostgresStoreTests {
    static func marker(_ key: String, offset: Int64 = 0, partition: Int32 = 0, group: String = "g") -> ProcessedMarker {
        ProcessedMarker(group: group, key: key, topic: "orders", partition: partition, offset: offset)
    }

    @Test func insertOrSkipInOneRoundTrip() async throws {
        try await TestServers.withPostgres { client in
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"))
            try await store.prepare()
            try await store.prepare()  // safe to repeat
            let first = try await store.withMarkers([Self.marker("a"), Self.marker("b"), Self.marker("a")]) { _, fresh in fresh }
            #expect(first == [true, true, false])
            let second = try await store.withMarkers([Self.marker("b", offset: 7), Self.marker("c", offset: 8)]) { _, fresh in fresh }
            #expect(second == [false, true])
            let otherGroup = try await store.withMarkers([Self.marker("a", group: "other")]) { _, fresh in fresh }
            #expect(otherGroup == [true])
        }
    }

    /// Workers starting together all prepare the same table: none may fail (concurrent `CREATE … IF NOT EXISTS`
    /// alone fails one of them with 23505 on pg_class).
    @Test func manyWorkersPreparingAtOnceAllSucceed() async throws {
        try await TestServers.withPostgres { client in
            for _ in 0..<3 {
                let table = TestServers.table("markers")
                let failures = await withTaskGroup(of: String?.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            do {
                                try await PostgresIdempotencyStore(client: client, tableName: table).prepare()
                                return nil
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
                }
                #expect(failures.isEmpty, "\(failures)")
                let store = try PostgresIdempotencyStore(client: client, tableName: table)
                #expect(try await store.withMarkers([Self.marker("a")]) { _, fresh in fresh } == [true])
            }
        }
    }

    @Test func handlerWritesCommitWithTheMarkerAndBusinessConstraintsAreNotDuplicates() async throws {
        try await TestServers.withPostgres { client in
            let table = TestServers.table("markers")
            let orders = TestServers.table("orders")
            let store = try PostgresIdempotencyStore(client: client, tableName: table)
            try await store.prepare()
            try await client.query("CREATE TABLE \(unescaped: orders) (id TEXT PRIMARY KEY, order_no TEXT NOT NULL CONSTRAINT \(unescaped: orders)_order_no UNIQUE)")
            // Throws after writing: the row and the marker roll back together.
            await #expect(throws: NonRetriableError.self) {
                try await store.withMarkers([Self.marker("o1")]) { connection, _ in
                    try await connection.query("INSERT INTO \(unescaped: orders) VALUES ('o1', 'n1')")
                    throw NonRetriableError("payment declined")
                }
            }
            #expect(try await Self.count(orders, client) == 0)
            let applied = try await store.withMarkers([Self.marker("o1")]) { connection, fresh in
                if fresh[0] { try await connection.query("INSERT INTO \(unescaped: orders) VALUES ('o1', 'n1')") }
                return fresh[0]
            }
            #expect(applied)
            // The marker exists: the copy runs no writes.
            #expect(try await store.withMarkers([Self.marker("o1", offset: 3)]) { _, fresh in fresh[0] } == false)
            // A different order with the same order number violates a business constraint: not a duplicate, not
            // retriable, and its marker is rolled back.
            do {
                try await store.withMarkers([Self.marker("o2")]) { connection, fresh in
                    #expect(fresh == [true])
                    try await connection.query("INSERT INTO \(unescaped: orders) VALUES ('o2', 'n1')")
                }
                Issue.record("the constraint violation was not reported")
            } catch let violation as PostgresConstraintViolation {
                #expect(violation.sqlState == "23505")
                #expect(violation.constraint == "\(orders)_order_no")
                #expect(violation.constraint != store.markerConstraint)
            }
            #expect(try await store.withMarkers([Self.marker("o2")]) { _, fresh in fresh } == [true])
            #expect(try await Self.count(orders, client) == 1)
        }
    }

    @Test func twoWorkersRacingOnOneKeyGiveOneEffect() async throws {
        try await TestServers.withPostgres { client in
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"))
            try await store.prepare()
            for round in 0..<5 {
                #expect(try await raceOnOneKey(Array(repeating: store, count: 6), key: "key-\(round)") == 1)
            }
        }
    }

    @Test func transientErrorsAreClassifiedAndCommitLossStoresNothing() async throws {
        try await TestServers.withPostgres { client in
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"))
            try await store.prepare()
            // The server ends the session (like an admin shutdown or a crash restart) while the handler runs.
            do {
                try await store.withMarkers([Self.marker("t1")]) { connection, _ in
                    _ = try await connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
                }
                Issue.record("a terminated session was not reported")
            } catch {
                #expect(error is TransientStoreError, "\(error)")
            }
            // Nothing of that transaction landed (the first try may meet another connection the restart of an
            // earlier test closed: that is transient too).
            #expect(try await Self.retryingTransient { try await store.withMarkers([Self.marker("t1")]) { _, fresh in fresh } } == [true])
            // Statement timeout (57014) is transient too.
            do {
                try await store.withMarkers([Self.marker("t2")]) { connection, _ in
                    try await connection.query("SET LOCAL statement_timeout = 50")
                    try await connection.query("SELECT pg_sleep(2)")
                }
                Issue.record("a statement timeout was not reported")
            } catch let error as TransientStoreError {
                #expect(error.reason.contains("57014"))
            }
        }
    }

    @Test func cleanupDeletesOnlyExpiredCommittedMarkersInBatches() async throws {
        try await TestServers.withPostgres { client in
            let table = TestServers.table("markers")
            let store = try PostgresIdempotencyStore(client: client, tableName: table)
            try await store.prepare()
            _ = try await store.withMarkers((0..<40).map { Self.marker("k\($0)", offset: Int64($0)) }) { _, _ in }
            // Age the first 30 markers by 10 days.
            try await client.query("UPDATE \(unescaped: table) SET processed_at = now() - interval '10 days' WHERE kafka_offset < 30")
            let partition = KafkaTopicPartition(topic: "orders", partition: 0)
            let cutoff = Date().addingTimeInterval(-7 * 86_400)
            var removed = 0
            while true {
                let count = try await store.removeMarkers(group: "g", partition: partition, below: 20, recordedBefore: cutoff, limit: 6)
                removed += count
                if count < 6 { break }
            }
            #expect(removed == 20)
            #expect(try await Self.count(table, client) == 20)
        }
    }

    @Test func aRestartMidTransactionStoresNothingAndTheRetryApplies() async throws {
        try await TestServers.withPostgres { client in
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"),
                                                     statementTimeout: .seconds(2))
            try await store.prepare()
            do {
                try await withDeadline(.seconds(20), "transaction over a restart") {
                    try await store.withMarkers([Self.marker("r1")]) { _, _ in
                        try await TestServers.restartPostgres()
                    }
                }
                Issue.record("COMMIT over a restarted server was reported as success")
            } catch {
                #expect(error is TransientStoreError, "\(error)")
            }
            // The pool reconnects within a bounded time; the retry finds the marker new and applies it.
            let started = ContinuousClock.now
            let fresh = try await Self.retryingTransient { try await store.withMarkers([Self.marker("r1")]) { _, fresh in fresh } }
            #expect(fresh == [true])
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func advisoryLockIsHeldByItsSessionAndReleasedOnlyByItsOwner() async throws {
        try await TestServers.withPostgres { client in
            let lock = PostgresAdvisoryLock(client: client)
            let name = "orders:\(UUID().uuidString)"
            let held = try #require(try await lock.tryAcquire(name, lease: .seconds(5)))
            #expect(try await lock.tryAcquire(name, lease: .seconds(5)) == nil, "busy while held")
            #expect(try await lock.renew(held, lease: .seconds(5)))
            // A lease that is not ours (a stale token) neither renews nor releases.
            let stranger = LockLease(name: name, token: "not-the-owner")
            #expect(try await lock.release(stranger) == false)
            #expect(try await lock.renew(stranger, lease: .seconds(5)) == false)
            #expect(try await lock.release(held))
            #expect(try await lock.release(held) == false, "released once")
            let again = try #require(try await lock.tryAcquire(name, lease: .seconds(5)))
            // The server ends the holder's session: the lock goes with it and the renewal reports the loss.
            try await client.query("""
                SELECT pg_terminate_backend(pid) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()
                """)
            var lost = false
            for _ in 0..<50 where !lost {
                lost = (try? await lock.renew(again, lease: .seconds(5))) != true
                if !lost { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(lost)
            // The terminated backend releases its locks as it exits, which can trail the client's error on a busy machine.
            var freed: LockLease?
            for _ in 0..<100 where freed == nil {
                freed = try await lock.tryAcquire(name, lease: .seconds(5))
                if freed == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(freed != nil, "free (within 5 s) after its session ended")
        }
    }

    @Test func urlErrorsNameThePartAndNeverThePassword() throws {
        for url in ["mysql://u:hunter2@h/db", "postgres://u:hunter2@/db", "postgres://u:hunter2@h/db?sslmode=maybe"] {
            do {
                _ = try PostgresURL.configuration(url)
                Issue.record("accepted \(url)")
            } catch {
                #expect(!error.description.contains("hunter2"))
                #expect(error.key.hasPrefix("postgres-url"))
            }
        }
    }

    /// Repeats `work` while it fails with a transient error, for up to 10 s.
    static func retryingTransient<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        while true {
            do {
                return try await work()
            } catch is TransientStoreError where ContinuousClock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func count(_ table: String, _ client: PostgresClient) async throws -> Int {
        var total = 0
        for try await value in try await client.query("SELECT count(*)::bigint FROM \(unescaped: table)").decode(Int64.self) {
            total = Int(value)
        }
        return total
    }
}
