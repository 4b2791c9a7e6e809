import Foundation
import KafkaClient

extension WorkerRun {
    /// Removes markers older than the window, every `interval`, for the partitions this worker holds and only
    /// below their committed offsets, in batches of `batchSize`.
    func markerCleanupLoop(_ store: StoreHooks, _ cleanup: MarkerCleanup) async {
        while await sleepUnlessStopped(cleanup.interval) {
            await cleanMarkers(store, cleanup)
        }
    }

    func cleanMarkers(_ store: StoreHooks, _ cleanup: MarkerCleanup) async {
        let partitions = consumer.assignment
        guard !partitions.isEmpty else { return }
        let cutoff = Date().addingTimeInterval(-cleanup.window.seconds)
        var removed = 0
        do {
            let committed = try await consumer.committedOffsets(for: partitions)
            for position in committed where position.offset >= 0 {
                let partition = KafkaTopicPartition(topic: position.topic, partition: position.partition)
                for _ in 0..<cleanup.maxBatchesPerRun {
                    let count = try await store.remove(configuration.groupID, partition, position.offset, cutoff,
                                                       cleanup.batchSize)
                    removed += count
                    metrics.markersRemoved(count)
                    if count < cleanup.batchSize || stopRequested.hasFired { break }
                }
            }
            events.emit(WorkerEvent(kind: .markersCleaned, partitions: partitions,
                                    message: "removed \(removed) idempotency markers older than \(cleanup.window)"))
        } catch {
            events.emit(WorkerEvent(kind: .markersCleaned, partitions: partitions, error: "\(error)",
                                    message: "marker cleanup failed after removing \(removed); trying again later"))
        }
    }
}
