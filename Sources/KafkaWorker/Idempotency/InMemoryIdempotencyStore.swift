public import Foundation
public import KafkaClient
import Synchronization

/// An ``IdempotencyStore`` in memory, for tests and single-process tools: transactions run one at a time and
/// roll back their markers (and the writes in ``Transaction``) when the body throws.
public final class InMemoryIdempotencyStore: IdempotencyStore, Sendable {
    private struct Row { var marker: ProcessedMarker; var recorded: Date }
    private let state = Mutex<[String: Row]>([:])
    private let gate = AsyncGate()
    private let now: @Sendable () -> Date

    /// - Parameter now: the time markers are recorded at (tests move it forward to test cleanup).
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// A transaction's view: writes made through it land only if the transaction commits.
    public final class Transaction: Sendable {
        fileprivate let pending = Mutex<[@Sendable () -> Void]>([])
        /// Runs `write` when (and only when) the transaction commits.
        public func onCommit(_ write: @escaping @Sendable () -> Void) { pending.withLock { $0.append(write) } }
    }

    public func prepare() async throws {}

    public func withMarkers<Result: Sendable>(
        _ markers: [ProcessedMarker], _ body: (Transaction, [Bool]) async throws -> Result
    ) async throws -> Result {
        try await gate.withGate {
            let recorded = now()
            let fresh = state.withLock { rows in
                var seen = Set<String>()
                return markers.map { rows[Self.id($0)] == nil && seen.insert(Self.id($0)).inserted }
            }
            let transaction = Transaction()
            let result = try await body(transaction, fresh)
            state.withLock { rows in
                for (marker, isNew) in zip(markers, fresh) where isNew {
                    rows[Self.id(marker)] = Row(marker: marker, recorded: recorded)
                }
            }
            for write in transaction.pending.withLock({ $0 }) { write() }
            return result
        }
    }

    public func removeMarkers(group: String, partition: KafkaTopicPartition, below committedOffset: Int64,
                              recordedBefore cutoff: Date, limit: Int) async throws -> Int {
        try await gate.withGate {
            state.withLock { rows in
                let doomed = rows.filter { _, row in
                    row.marker.group == group && row.marker.topic == partition.topic
                        && row.marker.partition == partition.partition && row.marker.offset < committedOffset
                        && row.recorded < cutoff
                }.keys.prefix(limit)
                for id in doomed { rows[id] = nil }
                return doomed.count
            }
        }
    }

    /// Markers currently recorded.
    public var count: Int { state.withLock { $0.count } }

    /// Whether `key` is recorded for `group`.
    public func contains(group: String, key: String) -> Bool {
        state.withLock { $0["\(group)\u{0}\(key)"] != nil }
    }

    private static func id(_ marker: ProcessedMarker) -> String { "\(marker.group)\u{0}\(marker.key)" }
}
