import KafkaWorker

/// Each store (a connection, a worker) processes a record with the same dedup key at the same time, holding its
/// transaction open for a moment when its marker is new. Returns how many applied the effect.
func raceOnOneKey<Store: IdempotencyStore>(_ stores: [Store], key: String) async throws -> Int {
    let effects = Tally()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for store in stores {
            group.addTask {
                try await store.withMarkers([ProcessedMarker(group: "g", key: key, topic: "orders", partition: 0, offset: 0)]) { _, fresh in
                    guard fresh[0] else { return }
                    // The others wait on this transaction (row lock, or SQLite's write lock), then see a duplicate.
                    try await Task.sleep(for: .milliseconds(80))
                    effects.add()
                }
            }
        }
        try await group.waitForAll()
    }
    return effects.value
}
