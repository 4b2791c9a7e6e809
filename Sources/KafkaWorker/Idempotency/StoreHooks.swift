import Foundation
import KafkaClient

/// An idempotency configuration with its value and transaction types erased, for the worker's start-up and
/// cleanup (settings are checked by the worker's `checkSettings`).
struct StoreHooks: Sendable {
    let prepare: @Sendable () async throws -> Void
    let cleanup: MarkerCleanup?
    let remove: @Sendable (_ group: String, KafkaTopicPartition, _ below: Int64, _ before: Date, _ limit: Int) async throws -> Int

    /// Records that the record at a position was dead-lettered: a marker keyed by its position (never by its dedup
    /// key — the same message sent again, corrected, must still run), in a transaction of its own, after the dead
    /// letter was published. Throws the store's errors.
    let markDeadLettered: @Sendable (KafkaRecord) async throws -> Void
    /// Whether the record at this position was dead-lettered before (it is being delivered again): asked before a
    /// dead letter is published, so a redelivery is skipped instead of dead-lettered twice. Leaves nothing behind.
    let wasDeadLettered: @Sendable (KafkaRecord) async throws -> Bool

    init<Value, Store: IdempotencyStore>(_ idempotency: Idempotency<Value, Store>, group: String) {
        let store = idempotency.store
        prepare = { try await store.prepare() }
        cleanup = idempotency.cleanup
        remove = { try await store.removeMarkers(group: $0, partition: $1, below: $2, recordedBefore: $3, limit: $4) }
        markDeadLettered = { record in
            _ = try await store.withMarkers([Self.deadLetterMarker(record, group: group)]) { _, _ in }
        }
        wasDeadLettered = { record in
            // Asked by inserting the marker and rolling the insert back: the store's one way to look a marker up.
            do {
                try await store.withMarkers([Self.deadLetterMarker(record, group: group)]) { _, fresh in
                    if fresh.first == true { throw NotDeadLettered() }
                }
                return true
            } catch is NotDeadLettered {
                return false
            }
        }
    }

    /// The marker of a dead-lettered position. Its key is no record's stored dedup key: it starts with the binary
    /// prefix (``DedupKeyEncoding/binaryPrefix``), after which a stored key holds only lowercase hex digits.
    static func deadLetterMarker(_ record: KafkaRecord, group: String) -> ProcessedMarker {
        ProcessedMarker(group: group, key: DedupKeyEncoding.binaryPrefix + "dead-letter/\(record.topic)/\(record.partition)/\(record.offset)",
                        topic: record.topic, partition: record.partition, offset: record.offset)
    }
}

/// Rolls back the probe of ``StoreHooks/wasDeadLettered``.
private struct NotDeadLettered: Error {}
