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
}
