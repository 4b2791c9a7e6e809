import Foundation
import KafkaClient

/// An idempotency configuration with its value and transaction types erased, for the worker's start-up and
/// cleanup (settings are checked by the worker's `checkSettings`).
struct StoreHooks: Sendable {
    let prepare: @Sendable () async throws -> Void
    let cleanup: MarkerCleanup?
    let remove: @Sendable (_ group: String, KafkaTopicPartition, _ below: Int64, _ before: Date, _ limit: Int) async throws -> Int

    init<Value, Store: IdempotencyStore>(_ idempotency: Idempotency<Value, Store>) {
        let store = idempotency.store
        prepare = { try await store.prepare() }
        cleanup = idempotency.cleanup
        remove = { try await store.removeMarkers(group: $0, partition: $1, below: $2, recordedBefore: $3, limit: $4) }
    }
}
