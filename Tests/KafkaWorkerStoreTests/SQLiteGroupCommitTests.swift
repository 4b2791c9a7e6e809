import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Testing

/// Group commit: concurrent `withMarkers` calls share one SQLite transaction (a savepoint each) and one COMMIT.
@Suite("SQLite group commit", .timeLimit(.minutes(2)))
struct SQLiteGroupCommitTests {
    static func store(maxGroupSize: Int = 100) throws -> SQLiteIdempotencyStore {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-group")).db").path
        var configuration = SQLiteIdempotencyStore.Configuration(path: file)
        configuration.maxGroupSize = maxGroupSize
        return try SQLiteIdempotencyStore(configuration: configuration)
    }

    static func prepared(maxGroupSize: Int = 100) async throws -> SQLiteIdempotencyStore {
        let store = try store(maxGroupSize: maxGroupSize)
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE effects (id TEXT NOT NULL)")
        }
        return store
    }

    static func rows(_ store: SQLiteIdempotencyStore) async throws -> [String: Int] {
        let rows = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("SELECT id, count(*) FROM effects GROUP BY id")
        }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0].text ?? "?", Int($0[1].integer ?? -1)) })
    }

    @Test("64 concurrent calls, one failing: 63 commit with their markers in a few transactions; the failing one's row and marker roll back alone, and its retry applies it once")
    func oneFailureRollsBackOnlyItsOwnWrites() async throws {
        let store = try await Self.prepared()
        let before = store.statistics
        let started = SharedCounter()
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<64 {
                group.addTask {
                    started.add()
                    do {
                        try await store.withMarkers([SQLiteStoreTests.marker("k\(index)", offset: Int64(index))]) { transaction, fresh in
                            #expect(fresh == [true])
                            // The first call in holds the connection until every call has arrived, so they queue.
                            while started.value < 64 { try await Task.sleep(for: .milliseconds(1)) }
                            try await transaction.execute("INSERT INTO effects VALUES (?)", [.text("k\(index)")])
                            if index == 13 { throw NonRetriableError("card declined") }
                        }
                        return (index, true)
                    } catch is NonRetriableError {
                        return (index, false)
                    }
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.filter(\.value).count == 63)
        #expect(results[13] == false)
        let rows = try await Self.rows(store)
        #expect(rows.count == 63 && rows["k13"] == nil && rows.values.allSatisfy { $0 == 1 }, "\(rows)")
        let used = store.statistics.transactions - before.transactions
        #expect(used <= 4, "63 calls committed in \(used) transactions (one each without group commit)")
        // The failing call's marker was rolled back with its row: the retry finds it new and applies it.
        try await store.withMarkers([SQLiteStoreTests.marker("k13", offset: 13)]) { transaction, fresh in
            #expect(fresh == [true])
            try await transaction.execute("INSERT INTO effects VALUES (?)", [.text("k13")])
        }
        let after = try await Self.rows(store)
        #expect(after.count == 64 && after.values.allSatisfy { $0 == 1 })
        // Redelivered copies are duplicates.
        let again = try await store.withMarkers((0..<64).map { SQLiteStoreTests.marker("k\($0)") }) { _, fresh in fresh }
        #expect(!again.contains(true))
    }

    /// Calls retry like the worker does, while some throw after writing and some fill the disk (SQLite then rolls
    /// the whole group's transaction back). A call that returned must be kept; every id ends applied exactly once.
    @Test("random failures and lost transactions under concurrency: a returned call is kept, every id applied exactly once",
          arguments: [(1 as UInt64, 100), (2, 7), (3, 1), (4, 100)])
    func randomFailures(seed: UInt64, maxGroupSize: Int) async throws {
        let store = try await Self.prepared(maxGroupSize: maxGroupSize)
        let ids = 400
        let lostGroups = SharedCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<16 {
                group.addTask {
                    var random = SplitMix(seed: seed &* 1_000 &+ UInt64(lane))
                    for id in stride(from: lane, to: ids, by: 16) {
                        while true {
                            let fate = random.next() % 10
                            do {
                                let applied = try await store.withMarkers([SQLiteStoreTests.marker("id\(id)", offset: Int64(id))]) {
                                    transaction, fresh in
                                    guard fresh[0] else { return false }
                                    try await transaction.execute("INSERT INTO effects VALUES (?)", [.text("id\(id)")])
                                    if fate == 0 { throw NonRetriableError("injected") }
                                    if fate == 1 {
                                        // Fill the database: SQLite rolls the whole transaction back.
                                        let pages = try await transaction.execute("PRAGMA page_count").first?.first?.integer ?? 0
                                        try await transaction.execute("PRAGMA max_page_count = \(pages + 1)")
                                        try await transaction.execute("INSERT INTO effects VALUES (hex(zeroblob(100000)))")
                                    }
                                    return true
                                }
                                // A returned call is committed: its row is there now.
                                let rows = try await Self.retrying { try await Self.rows(store) }
                                #expect(rows["id\(id)"] == 1, "id\(id) returned (applied: \(applied)) but has \(rows["id\(id)"] ?? 0) rows")
                                break
                            } catch is NonRetriableError {
                                continue
                            } catch is TransientStoreError {
                                if fate == 1 { lostGroups.add() }
                                // The page limit is the connection's, not the transaction's: lift it before retrying.
                                try await Self.retrying {
                                    _ = try await store.withMarkers([]) { transaction, _ in
                                        try await transaction.execute("PRAGMA max_page_count = 1073741823")
                                    }
                                }
                                continue
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let rows = try await Self.rows(store)
        #expect(rows.count == ids, "\(rows.count) of \(ids) ids applied")
        #expect(rows.values.allSatisfy { $0 == 1 }, "an id applied twice: \(rows.filter { $0.value != 1 })")
        #expect(lostGroups.value > 0, "the disk filled at least once")
        let statistics = store.statistics
        #expect(statistics.failedCalls > 0 && statistics.committedCalls >= ids)
    }

    /// Runs `body` until it does not throw a TransientStoreError (a call of a group another call's full disk rolled
    /// back), as the worker would.
    static func retrying<T>(_ body: () async throws -> T) async throws -> T {
        while true {
            do { return try await body() } catch is TransientStoreError { continue }
        }
    }

    /// Another connection holds the write lock: the call that holds the turn waits the busy timeout once, and the
    /// calls queued behind it fail with it instead of each waiting the busy timeout in turn (16 × 0.3 s before).
    @Test("a database another connection holds: the queued calls fail together after one busy timeout, not one timeout each")
    func busyDatabaseFailsTheQueueAtOnce() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-busy")).db").path
        let holder = try SQLiteIdempotencyStore(configuration: .init(path: path))
        try await holder.prepare()
        var configuration = SQLiteIdempotencyStore.Configuration(path: path)
        configuration.busyTimeout = .milliseconds(300)
        let store = try SQLiteIdempotencyStore(configuration: configuration)
        try await store.prepare()
        let done = SharedCounter(), holding = SharedCounter()
        let calls = 16
        let clock = ContinuousClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try await holder.withMarkers([SQLiteStoreTests.marker("holder")]) { _, _ in
                    holding.add()
                    // Hold the write lock until every queued call has its answer (at most 20 s).
                    let deadline = clock.now + .seconds(20)
                    while done.value < calls, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                }
            }
            while holding.value == 0 { try await Task.sleep(for: .milliseconds(1)) }
            let start = clock.now
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { calling in
                for index in 0..<calls {
                    calling.addTask {
                        defer { done.add() }
                        do {
                            _ = try await store.withMarkers([SQLiteStoreTests.marker("k\(index)")]) { _, fresh in fresh }
                            return false
                        } catch is TransientStoreError {
                            return true
                        }
                    }
                }
                return try await calling.reduce(into: [Bool]()) { $0.append($1) }
            }
            let elapsed = clock.now - start
            #expect(outcomes.allSatisfy { $0 }, "every call failed as transient (retried by the worker)")
            #expect(elapsed < .milliseconds(300 * 8), "16 queued calls answered in \(elapsed); one busy timeout each would take 4.8 s")
            try await group.waitForAll()
        }
        // Once the other connection let go, the store works.
        #expect(try await store.withMarkers([SQLiteStoreTests.marker("after")]) { _, fresh in fresh } == [true])
    }

    @Test("maxGroupSize outside 1 ... 10000 is refused at start, naming the key")
    func badGroupSize() throws {
        for size in [0, 10_001] {
            var configuration = SQLiteIdempotencyStore.Configuration(path: "/tmp/x.db")
            configuration.maxGroupSize = size
            let error = #expect(throws: KafkaConfigurationError.self) { _ = try SQLiteIdempotencyStore(configuration: configuration) }
            #expect(error?.key == "sqlite.maxGroupSize")
        }
    }
}
