import Foundation
import KafkaWorker
import KafkaWorkerSQLite

/// The demo's database: a SQLite file holding the idempotency markers and the applied orders, written in one
/// transaction per batch. A temporary file unless `--database` names one.
struct DemoDatabase {
    let store: SQLiteIdempotencyStore
    let path: String
    let isTemporary: Bool

    init(path: String?) throws {
        isTemporary = path == nil
        self.path = path ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("kafka-worker-demo-\(ProcessInfo.processInfo.processIdentifier).db").path
        if isTemporary { Self.remove(self.path) }
        store = try SQLiteIdempotencyStore(configuration: .init(path: self.path))
    }

    func prepare() async throws {
        try await store.prepare()
        _ = try await store.withMarkers([]) { transaction, _ in
            try await transaction.execute("CREATE TABLE IF NOT EXISTS demo_orders (order_id TEXT PRIMARY KEY, "
                                          + "customer_id TEXT NOT NULL, amount_cents INTEGER NOT NULL)")
        }
    }

    /// Applies the orders of a batch (only new ones reach here) in the markers' transaction.
    static func apply(_ orders: [WorkerRecord<Order>], in transaction: SQLiteTransaction) async throws {
        for chunk in stride(from: 0, to: orders.count, by: 300).map({ orders[$0..<min($0 + 300, orders.count)] }) {
            let rows = Array(repeating: "(?, ?, ?)", count: chunk.count).joined(separator: ", ")
            try await transaction.execute("INSERT INTO demo_orders VALUES \(rows)", chunk.flatMap { record in
                [SQLiteValue.text(record.value.orderId), .text(record.value.customerId), .integer(Int64(record.value.amountCents))]
            })
        }
    }

    /// Orders applied so far.
    func appliedCount() async throws -> Int {
        let rows = try await store.withMarkers([]) { transaction, _ in try await transaction.execute("SELECT count(*) FROM demo_orders") }
        return Int(rows.first?.first?.integer ?? 0)
    }

    func removeIfTemporary() {
        if isTemporary { Self.remove(path) }
    }

    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
