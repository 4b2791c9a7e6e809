public import Foundation
public import KafkaClient

/// Where a worker records which messages it has processed, so that a second copy is skipped.
///
/// The one operation is transactional insert-or-skip: ``withMarkers(_:_:)`` opens a transaction, inserts the
/// markers in one statement that reports which were new (`INSERT … ON CONFLICT DO NOTHING RETURNING`; no
/// check-then-act), hands the transaction to the handler for those, and commits. The marker and the handler's
/// own writes to the same database commit together or not at all; a second worker inserting the same key
/// waits for the first transaction and then sees a duplicate. The worker stores a record's offset only after
/// `withMarkers` returned, that is after COMMIT returned.
///
/// Implementations: `SQLiteIdempotencyStore` (KafkaWorkerSQLite), `PostgresIdempotencyStore`
/// (KafkaWorkerPostgres), ``InMemoryIdempotencyStore`` (tests, one process).
public protocol IdempotencyStore: Sendable {
    /// What a handler writes through, inside the marker's transaction (a database connection).
    associatedtype Transaction

    /// Creates the schema if missing. Called by the worker before it consumes; safe to call again.
    func prepare() async throws

    /// In one transaction: inserts `markers` (skipping those already recorded), runs `body` with the
    /// transaction and, for each marker in order, whether it was new; commits when `body` returns and rolls back
    /// when it throws (so the markers it inserted are gone too). Returns once COMMIT has returned.
    ///
    /// Errors: transient database failures (connection lost, serialization failure, deadlock, statement timeout,
    /// server shutting down) are thrown as ``TransientStoreError`` — the worker retries them without limit and
    /// never dead-letters a record for them. A unique violation of any constraint other than the marker's own is
    /// the handler's error (not a duplicate).
    func withMarkers<Result: Sendable>(
        _ markers: [ProcessedMarker], _ body: (Transaction, [Bool]) async throws -> Result
    ) async throws -> Result

    /// Deletes up to `limit` markers of `group` for `partition` that were recorded before `cutoff` and whose
    /// offset is below `committedOffset` (so a marker whose record could still be redelivered is kept).
    /// Returns how many were deleted.
    func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                       recordedBefore cutoff: Date, limit: Int) async throws -> Int
}

/// A dependency (database, lock service) failed in a way that goes away: the worker retries the record with
/// backoff for as long as it takes, and never dead-letters it for this.
public protocol TransientDependencyError: Error {}

/// A transient failure of an ``IdempotencyStore``: retried, never a reason to skip or dead-letter.
public struct TransientStoreError: TransientDependencyError, CustomStringConvertible {
    /// What failed, without connection secrets (e.g. `serialization failure (SQLSTATE 40001)`).
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "idempotency store temporarily unavailable: \(reason)" }
}
