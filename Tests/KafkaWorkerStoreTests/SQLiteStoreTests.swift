import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerSQLite
import KafkaWorkerTesting
import Synchronization
import Testing

@Suite struct SQLiteStoreTests {
    static func store(_ path: String? = nil, now: @escaping @Sendable () -> Date = { Date() }) throws -> SQLiteIdempotencyStore {
        let file = path ?? FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-sqlite")).db").path
        return try SQLiteIdempotencyStore(configuration: .init(path: file), now: now)
    }

    static func marker(_ key: String, offset: Int64 = 0, partition: Int32 = 0) -> ProcessedMarker {
        ProcessedMarker(group: "g", key: key, topic: "orders", partition: partition, offset: offset)
    }

    @Test func insertOrSkipTellsNewFromRecordedInOneStatement() async throws {
        let store = try Self.store()
        try await store.prepare()
        let first = try await store.withMarkers([Self.marker("a"), Self.marker("b"), Self.marker("a")]) { _, fresh in fresh }
        #expect(first == [true, true, false])
        let second = try await store.withMarkers([Self.marker("b", offset: 9), Self.marker("c", offset: 10)]) { _, fresh in fresh }
        #expect(second == [false, true])
        // Another group processes the same ids independently.
        let other = ProcessedMarker(group: "other", key: "a", topic: "orders", partition: 0, offset: 0)
        #expect(try await store.withMarkers([other]) { _, fresh in fresh } == [true])
    }

    @Test func handlerWritesCommitWithTheMarkerOrNotAtAll() async throws {
        let store = try Self.store()
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, order_no TEXT UNIQUE)")
        }
        // The handler throws after writing: its row and the marker roll back together.
        await #expect(throws: NonRetriableError.self) {
            try await store.withMarkers([Self.marker("o1")]) { transaction, _ in
                try await transaction.execute("INSERT INTO orders VALUES (?, ?)", ["o1", "n1"])
                throw NonRetriableError("payment declined")
            }
        }
        // Retried: the marker is new again, and this time it commits.
        let applied = try await store.withMarkers([Self.marker("o1")]) { transaction, fresh in
            if fresh[0] { try await transaction.execute("INSERT INTO orders VALUES (?, ?)", ["o1", "n1"]) }
            return fresh[0]
        }
        #expect(applied)
        // The marker exists: a redelivered copy runs no writes; the transaction is rolled back.
        let again = try await store.withMarkers([Self.marker("o1", offset: 5)]) { _, fresh in fresh[0] }
        #expect(!again)
        // A business constraint (order_no UNIQUE) is not a duplicate: it is a non-retriable error, and the marker of
        // the rejected record is not kept.
        await #expect(throws: SQLiteConstraintViolation.self) {
            try await store.withMarkers([Self.marker("o2")]) { transaction, fresh in
                #expect(fresh == [true])
                try await transaction.execute("INSERT INTO orders VALUES (?, ?)", ["o2", "n1"])
            }
        }
        let rows = try await store.withMarkers([Self.marker("o2")]) { transaction, fresh in
            (fresh, try await transaction.execute("SELECT id FROM orders ORDER BY id"))
        }
        #expect(rows.0 == [true])
        #expect(rows.1 == [[.text("o1")]])
    }

    @Test func twoConnectionsRacingOnOneKeyGiveOneEffect() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(KafkaTesting.unique("kw-race")).db").path
        let stores = try (0..<4).map { _ in try Self.store(path) }
        try await stores[0].prepare()
        #expect(try await raceOnOneKey(stores, key: "same-key") == 1)
    }

    @Test func cleanupRemovesOnlyOldMarkersBelowTheCommittedOffset() async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
        let store = try Self.store(now: { clock.withLock { $0 } })
        try await store.prepare()
        // 14 "days" of markers, 10 per day, offsets in order.
        for day in 0..<14 {
            clock.withLock { $0 = Date(timeIntervalSince1970: 1_700_000_000 + Double(day) * 86_400) }
            let markers = (0..<10).map { Self.marker("d\(day)-\($0)", offset: Int64(day * 10 + $0)) }
            _ = try await store.withMarkers(markers) { _, _ in }
        }
        let cutoff = Date(timeIntervalSince1970: 1_700_000_000 + 7 * 86_400)
        let partition = KafkaTopicPartition(topic: "orders", partition: 0)
        // Committed offset 35: days 0–2 fully, day 3 up to offset 34. Batches of 7.
        var removed = 0
        while true {
            let count = try await store.removeMarkers(group: "g", partition: partition, below: 35, recordedBefore: cutoff, limit: 7)
            #expect(count <= 7)
            removed += count
            if count < 7 { break }
        }
        #expect(removed == 35)
        // Old enough but not committed (day 3, offsets 35…39; days 4–6) and younger than the window: kept.
        let kept = try await store.withMarkers((0..<14).flatMap { day in (0..<10).map { Self.marker("d\(day)-\($0)") } }) { _, fresh in
            fresh
        }
        #expect(kept.filter { $0 }.count == 35)
        #expect(kept.prefix(35).allSatisfy { $0 })
        #expect(kept.dropFirst(35).allSatisfy { !$0 })
        // Nothing removed for a partition with no committed offset past the markers.
        #expect(try await store.removeMarkers(group: "g", partition: .init(topic: "orders", partition: 1), below: 1_000,
                                              recordedBefore: cutoff, limit: 100) == 0)
    }

    @Test func badSettingsNameTheKey() throws {
        #expect(throws: KafkaConfigurationError.self) {
            var configuration = SQLiteIdempotencyStore.Configuration(path: "/tmp/x.db")
            configuration.tableName = "markers; DROP TABLE x"
            _ = try SQLiteIdempotencyStore(configuration: configuration)
        }
        do {
            var configuration = SQLiteIdempotencyStore.Configuration(path: "/tmp/x.db")
            configuration.busyTimeout = .seconds(3600)
            _ = try SQLiteIdempotencyStore(configuration: configuration)
            Issue.record("an out-of-range busy timeout was accepted")
        } catch {
            #expect(error.key == "sqlite.busyTimeout")
        }
    }
}

@Suite("SQLite: a full disk is the environment's fault, not the record's")
struct SQLiteEnvironmentTests {
    @Test("a write that fills the database (max_page_count) fails as a TransientStoreError, so it is retried, never dead-lettered")
    func fullDatabaseIsTransient() async throws {
        let store = try SQLiteStoreTests.store()
        try await store.prepare()
        let error = await #expect(throws: (any Error).self) {
            try await store.withMarkers([SQLiteStoreTests.marker("full")]) { transaction, _ in
                try await transaction.execute("CREATE TABLE big (b BLOB)")
                let pages = try await transaction.execute("PRAGMA page_count").first?.first?.integer ?? 0
                try await transaction.execute("PRAGMA max_page_count = \(pages + 2)")
                try await transaction.execute("INSERT INTO big VALUES (zeroblob(1000000))")
            }
        }
        #expect(error is TransientStoreError, "\(String(describing: error))")
        // The marker was rolled back with the failed write: the record will be applied when it is retried.
        let fresh = try await store.withMarkers([SQLiteStoreTests.marker("other")]) { _, fresh in fresh }
        #expect(fresh == [true], "the store still works after the failed transaction")
    }
}
