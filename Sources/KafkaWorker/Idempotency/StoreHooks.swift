import Foundation
import KafkaClient

/// An idempotency configuration with its value and transaction types erased, for the worker's start-up and
/// cleanup (settings are checked by the worker's `checkSettings`).
struct StoreHooks: Sendable {
    let prepare: @Sendable () async throws -> Void
    let cleanup: MarkerCleanup?
    let remove: @Sendable (_ group: String, KafkaTopicPartition, _ below: Int64, _ before: Date, _ limit: Int) async throws -> Int

    /// Records that a record was dead-lettered: its marker, in a transaction of its own, after the dead letter was
    /// published. A redelivered copy (or the same message again) is then skipped as a duplicate instead of being
    /// dead-lettered twice. A record without a dedup key (one that does not decode, with a key read from its value)
    /// cannot be marked: nothing happens. Throws the store's errors.
    let markDeadLettered: @Sendable (KafkaRecord) async throws -> Void

    init<Decoder: RecordDecoder, Store: IdempotencyStore>(_ idempotency: Idempotency<Decoder.Value, Store>,
                                                          decoder: Decoder, group: String) {
        let store = idempotency.store
        prepare = { try await store.prepare() }
        cleanup = idempotency.cleanup
        remove = { try await store.removeMarkers(group: $0, partition: $1, below: $2, recordedBefore: $3, limit: $4) }
        markDeadLettered = { record in
            guard let value = try? decoder.decode(record),
                  let marker = try? idempotency.marker(for: WorkerRecord(record: record, value: value, attempt: 1), group: group)
            else { return }
            _ = try await store.withMarkers([marker]) { _, _ in }
        }
    }
}
