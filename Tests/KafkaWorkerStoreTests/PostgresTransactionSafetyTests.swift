import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerPostgres
import KafkaWorkerTesting
import Logging
import PostgresNIO
import Testing

/// Transactions that fail, are cancelled or run for long, and a database that cannot be reached (in the serialized
/// PostgreSQL suite: one test there restarts the server).
extension PostgresStoreTests {
    static let rawLogger = Logger(label: "test.raw")

    /// After a failed statement PostgreSQL aborts the transaction and answers COMMIT with `ROLLBACK`, no error. A
    /// handler that caught the statement's error must not make that look like a commit: the record would be lost.
    @Test(arguments: ["query", "raw connection"])
    func aStatementErrorTheHandlerCaughtFailsTheTransaction(_ path: String) async throws {
        try await TestServers.withPostgres { client in
            let table = TestServers.table("markers")
            let orders = TestServers.table("orders")
            let store = try PostgresIdempotencyStore(client: client, tableName: table)
            try await store.prepare()
            try await client.query("CREATE TABLE \(unescaped: orders) (id TEXT PRIMARY KEY)")
            try await client.query("INSERT INTO \(unescaped: orders) VALUES ('taken')")
            let key = "caught-\(path)"
            do {
                try await store.withMarkers([Self.marker(key)]) { transaction, fresh in
                    #expect(fresh == [true])
                    try await transaction.query("INSERT INTO \(unescaped: orders) VALUES (\(key))")
                    do {
                        let clash: PostgresQuery = "INSERT INTO \(unescaped: orders) VALUES ('taken')"
                        if path == "query" {
                            try await transaction.query(clash)
                        } else {
                            for try await _ in try await transaction.connection.query(clash, logger: Self.rawLogger) {}
                        }
                        Issue.record("the clashing insert succeeded")
                    } catch {
                        // The handler swallows it.
                    }
                }
                Issue.record("withMarkers returned normally although PostgreSQL rolled the transaction back")
            } catch let violation as PostgresConstraintViolation {
                // Through `query` the swallowed error itself surfaces (not retriable: dead-lettered).
                #expect(path == "query")
                #expect(violation.constraint == "\(orders)_pkey")
            } catch let error as PostgresStoreError {
                #expect(path == "raw connection")
                #expect(error.description.contains("rolled back"), "\(error)")
            }
            #expect(try await Self.count(table, client) == 0, "no marker")
            #expect(try await Self.count(orders, client) == 1, "only the row from before")
            // The retry applies exactly once.
            let applied = try await store.withMarkers([Self.marker(key)]) { transaction, fresh in
                if fresh[0] { try await transaction.query("INSERT INTO \(unescaped: orders) VALUES (\(key))") }
                return fresh[0]
            }
            #expect(applied)
            #expect(try await store.withMarkers([Self.marker(key)]) { _, fresh in fresh[0] } == false)
            #expect(try await Self.count(table, client) == 1)
            #expect(try await Self.count(orders, client) == 2)
        }
    }

    /// A cancelled transaction (watchdog, lost lease, forced stop) must give its connection back clean or closed:
    /// never with its statement, or a ROLLBACK, still in flight for the next lessee. Cancelled in a statement, the
    /// connection is closed; between statements, the ROLLBACK runs to its end and the connection is kept.
    @Test(arguments: ["in a statement", "between statements"])
    func aCancelledTransactionLeavesNothingOnThePooledConnection(_ moment: String) async throws {
        try await TestServers.withPostgres(maxConnections: 1) { client in
            let table = TestServers.table("markers")
            let orders = TestServers.table("orders")
            let store = try PostgresIdempotencyStore(client: client, tableName: table)
            try await store.prepare()
            try await client.query("CREATE TABLE \(unescaped: orders) (id TEXT PRIMARY KEY)")
            let sleeping = Tally()
            let backend = Tally()
            let cancelled = Task {
                try await store.withMarkers([Self.marker("cancelled")]) { transaction, _ in
                    try await transaction.query("INSERT INTO \(unescaped: orders) VALUES ('cancelled')")
                    let pid = try await transaction.query("SELECT pg_backend_pid()::bigint")
                    backend.add(Int(try #require(pid.first).decode(Int64.self)))
                    sleeping.add()
                    if moment == "in a statement" {
                        try await transaction.query("SELECT pg_sleep(5)")
                    } else {
                        try await Task.sleep(for: .seconds(5))
                    }
                }
            }
            try await waitUntil("the handler is in pg_sleep") { sleeping.value == 1 }
            try await Task.sleep(for: .milliseconds(100))
            cancelled.cancel()
            let cancelledAt = ContinuousClock.now
            await #expect(throws: (any Error).self) { try await cancelled.value }
            // At once, many more on the same single pooled connection.
            var firstDone: Duration?
            for index in 0..<40 {
                let key = "after-\(index)"
                let fresh = try await store.withMarkers([Self.marker(key)]) { transaction, fresh in
                    if fresh[0] { try await transaction.query("INSERT INTO \(unescaped: orders) VALUES (\(key))") }
                    // Inside our own transaction: our marker is there, nobody else's statement ran in it.
                    let own = try await transaction.query("SELECT count(*)::bigint FROM \(unescaped: table) WHERE dedup_key = \(key)")
                    #expect(try own.first?.decode(Int64.self) == 1)
                    return fresh
                }
                #expect(fresh == [true], "\(key)")
                if firstDone == nil { firstDone = ContinuousClock.now - cancelledAt }
            }
            // Closed when cancelled in a statement; rolled back and kept when cancelled between statements.
            let pid = try await store.withMarkers([]) { transaction, _ in
                Int(try #require(try await transaction.query("SELECT pg_backend_pid()::bigint").first).decode(Int64.self))
            }
            #expect((pid == backend.value) == (moment == "between statements"), "backend \(backend.value), now \(pid)")
            // Not queued behind the cancelled statement (its pg_sleep ends 5 s after it began).
            let waited = try #require(firstDone)
            #expect(waited < .seconds(3), "the first transaction after the cancel took \(waited)")
            #expect(try await Self.count(table, client) == 40)
            #expect(try await Self.count(orders, client) == 40)
            #expect(try await Self.count("\(table) WHERE dedup_key = 'cancelled'", client) == 0)
            #expect(try await Self.count("\(orders) WHERE id = 'cancelled'", client) == 0)
            // No session of ours (the cancelled one's backend, the pool's current one) is left open in a transaction;
            // other tests' sessions on the same server may be, between two statements of theirs.
            #expect(try await Self.count("""
                pg_stat_activity WHERE pid IN (\(backend.value), \(pid)) AND pid <> pg_backend_pid()
                AND state LIKE 'idle in transaction%'
                """, client) == 0)
        }
    }

    /// Each statement's timeout race and close watch end with the statement: nothing accumulates on a connection that
    /// lives for hours.
    @Test func boundedStatementsLeaveNoTimersOrCloseCallbacksBehind() async throws {
        try await TestServers.withPostgres(maxConnections: 1) { client in
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"))
            try await store.prepare()
            let rssBefore = Self.residentKiB()
            for round in 0..<4 {
                try await store.withMarkers([Self.marker("m\(round)")]) { transaction, _ in
                    for _ in 0..<2_500 { try await transaction.query("SELECT 1") }
                }
            }
            let rssGrowth = Self.residentKiB() - rssBefore
            #expect(store.counters.timers == 0, "timers still alive")
            #expect(store.counters.closeCallbacks <= 1, "one close watch for the one connection")
            // The counters above are the exact check; resident memory is a backstop against a gross leak only: the
            // other suites run in this process meanwhile (seen: 36 MiB of their growth on a loaded run).
            #expect(rssGrowth < 64 * 1024, "resident memory grew by \(rssGrowth) KiB over 10,000 statements")
            // The same for the advisory lock: one held lock at a time, on the pool's one connection.
            let lock = PostgresAdvisoryLock(client: client)
            for index in 0..<300 {
                let held = try #require(try await lock.tryAcquire("leak:\(index)", lease: .seconds(5)))
                #expect(try await lock.renew(held, lease: .seconds(5)))
                #expect(try await lock.release(held))
            }
            #expect(lock.counters.timers == 0, "reply timers still alive")
            #expect(lock.counters.closeCallbacks <= 1, "one close watch for the one connection")
        }
    }

    /// An unreachable database is reported by `prepare()` within a bounded time, never a hang, and without the
    /// password: a closed loopback port, and a listener that completes the TCP handshake but never answers.
    @Test(arguments: ["closed port", "silent server"])
    func prepareReportsAnUnreachableDatabaseInBoundedTime(_ kind: String) async throws {
        let listener = kind == "silent server" ? try SilentListener() : nil
        defer { listener?.close() }
        let port = try listener?.port ?? SilentListener.closedPort()
        var configuration = try PostgresURL.configuration("postgres://worker:hunter2-secret@127.0.0.1:\(port)/db?sslmode=disable")
        configuration.options.connectTimeout = .seconds(3)
        var quiet = Logger(label: "test.unreachable")
        quiet.logLevel = .critical
        let client = PostgresClient(configuration: configuration, backgroundLogger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let store = try PostgresIdempotencyStore(client: client, tableName: TestServers.table("markers"),
                                                     statementTimeout: .seconds(1))
            let started = ContinuousClock.now
            do {
                try await withDeadline(.seconds(15), "prepare against a \(kind)") { try await store.prepare() }
                Issue.record("prepare succeeded against a \(kind)")
            } catch is DeadlineExceeded {
                Issue.record("prepare did not return within 15 s against a \(kind)")
            } catch {
                #expect(error is TransientStoreError, "\(error)")
                #expect(!"\(error)".contains("hunter2"), "\(error)")
                #expect(ContinuousClock.now - started < .seconds(5), "took \(ContinuousClock.now - started)")
            }
        }
    }

    /// VmRSS of this process.
    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
