import KafkaClient

/// A handler with its decoder (and idempotency store, lock), erased to work on raw records.
enum RecordHandler: Sendable {
    /// Decodes and handles one record; `Int` is the attempt. Returns `true` when the record was skipped as a
    /// duplicate.
    case perRecord(@Sendable (KafkaRecord, Int) async throws -> Bool)
    /// Decodes the records and handles those that decode as one batch.
    case perBatch(@Sendable ([KafkaRecord], Int) async throws -> BatchOutcome)

    /// What a batch handler did besides handling.
    struct BatchOutcome: Sendable {
        /// Records that could not be decoded or keyed (index in the input, error); not given to the handler.
        var rejected: [(Int, any Error)] = []
        /// Records skipped as duplicates.
        var duplicates = 0
    }

    static func record<D: RecordDecoder>(
        _ decoder: D, locking: Locking<D.Value>?, _ handler: @escaping @Sendable (WorkerRecord<D.Value>) async throws -> Void
    ) -> RecordHandler {
        guard let locking else {
            // No closure per record on the plain path.
            return .perRecord { record, attempt in
                try await handler(WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt))
                return false
            }
        }
        return .perRecord { record, attempt in
            let item = WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt)
            try await locked(item, locking) { try await handler(item) }
            return false
        }
    }

    /// `prepare` runs first, outside the store's transaction (under the record's lock when locking is on); its
    /// result goes to `handler`, which runs inside it when the marker is new.
    static func record<D: RecordDecoder, Store: IdempotencyStore, Prepared: Sendable>(
        _ decoder: D, idempotency: Idempotency<D.Value, Store>, locking: Locking<D.Value>?, group: String,
        prepare: @escaping @Sendable (WorkerRecord<D.Value>) async throws -> Prepared,
        _ handler: @escaping @Sendable (WorkerRecord<D.Value>, Prepared, Store.Transaction) async throws -> Void
    ) -> RecordHandler {
        .perRecord { record, attempt in
            let item = WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt)
            let marker = try idempotency.marker(for: item, group: group)
            return try await locked(item, locking) {
                let prepared = try await prepare(item)
                return try await idempotency.store.withMarkers([marker]) { transaction, fresh in
                    guard fresh.first == true else { return true }
                    try await handler(item, prepared, transaction)
                    return false
                }
            }
        }
    }

    static func batch<D: RecordDecoder>(
        _ decoder: D, _ handler: @escaping @Sendable ([WorkerRecord<D.Value>]) async throws -> Void
    ) -> RecordHandler {
        .perBatch { records, attempt in
            var (decoded, outcome) = decode(records, decoder, attempt: attempt)
            if !decoded.isEmpty { try await handler(decoded) }
            outcome.duplicates = 0
            return outcome
        }
    }

    static func batch<D: RecordDecoder, Store: IdempotencyStore>(
        _ decoder: D, idempotency: Idempotency<D.Value, Store>, group: String,
        _ handler: @escaping @Sendable ([WorkerRecord<D.Value>], Store.Transaction) async throws -> Void
    ) -> RecordHandler {
        .perBatch { records, attempt in
            var (decoded, outcome) = decode(records, decoder, attempt: attempt)
            // Key every record; one without a key is rejected. A key seen earlier in the batch is a duplicate.
            var keyed: [(item: WorkerRecord<D.Value>, marker: ProcessedMarker)] = []
            var seen = Set<String>()
            var repeats = 0
            for item in decoded {
                do {
                    let marker = try idempotency.marker(for: item, group: group)
                    if seen.insert(marker.key).inserted { keyed.append((item, marker)) } else { repeats += 1 }
                } catch {
                    // A batch holds one partition's records, so the offset finds the record.
                    outcome.rejected.append((records.firstIndex { $0.offset == item.offset }!, error))
                }
            }
            decoded = []
            guard !keyed.isEmpty else {
                outcome.duplicates = repeats
                return outcome
            }
            let skipped = try await idempotency.store.withMarkers(keyed.map(\.marker)) { transaction, fresh in
                let new = zip(keyed, fresh).filter(\.1).map(\.0.item)
                if !new.isEmpty { try await handler(new, transaction) }
                return keyed.count - new.count
            }
            outcome.duplicates = skipped + repeats
            outcome.rejected.sort { $0.0 < $1.0 }
            return outcome
        }
    }

    /// Decodes what decodes; the rest is rejected with its error.
    private static func decode<D: RecordDecoder>(_ records: [KafkaRecord], _ decoder: D,
                                                 attempt: Int) -> ([WorkerRecord<D.Value>], BatchOutcome) {
        var decoded: [WorkerRecord<D.Value>] = []
        decoded.reserveCapacity(records.count)
        var outcome = BatchOutcome()
        for (index, record) in records.enumerated() {
            do {
                decoded.append(WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt))
            } catch {
                outcome.rejected.append((index, error))
            }
        }
        return (decoded, outcome)
    }

    /// Runs `body` under the record's lock when locking is configured.
    private static func locked<Value, Result: Sendable>(
        _ item: WorkerRecord<Value>, _ locking: Locking<Value>?, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        guard let locking else { return try await body() }
        return try await locking.lock.withLock(try locking.lockName(for: item), lease: locking.lease, body)
    }
}

extension Idempotency {
    func marker(for item: WorkerRecord<Value>, group: String) throws(MissingDedupKey) -> ProcessedMarker {
        ProcessedMarker(group: group, key: try key.key(of: item), topic: item.topic, partition: item.partition,
                        offset: item.offset)
    }
}
