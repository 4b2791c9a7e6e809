import KafkaClient

/// A handler with its decoder, erased to work on raw records.
enum RecordHandler: Sendable {
    /// Decodes and handles one record; `Int` is the attempt.
    case perRecord(@Sendable (KafkaRecord, Int) async throws -> Void)
    /// Decodes the records and handles those that decode as one batch. Returns the records that could not be
    /// decoded (index in the input, error); they were not given to the handler.
    case perBatch(@Sendable ([KafkaRecord], Int) async throws -> [(Int, any Error)])

    static func record<D: RecordDecoder>(
        _ decoder: D, _ handler: @escaping @Sendable (WorkerRecord<D.Value>) async throws -> Void
    ) -> RecordHandler {
        .perRecord { record, attempt in
            try await handler(WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt))
        }
    }

    static func batch<D: RecordDecoder>(
        _ decoder: D, _ handler: @escaping @Sendable ([WorkerRecord<D.Value>]) async throws -> Void
    ) -> RecordHandler {
        .perBatch { records, attempt in
            var decoded: [WorkerRecord<D.Value>] = []
            decoded.reserveCapacity(records.count)
            var failures: [(Int, any Error)] = []
            for (index, record) in records.enumerated() {
                do {
                    decoded.append(WorkerRecord(record: record, value: try decoder.decode(record), attempt: attempt))
                } catch {
                    failures.append((index, error))
                }
            }
            if !decoded.isEmpty { try await handler(decoded) }
            return failures
        }
    }
}
