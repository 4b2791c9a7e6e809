internal import Crdkafka

/// A seek waiting for the poll thread.
struct PendingSeek: Sendable {
    var offsets: [KafkaTopicPartitionOffset]
    var timeout: Duration
    var continuation: CheckedContinuation<KafkaError?, Never>
}

extension ConsumerCore {
    /// Queues a seek for the poll thread and waits for its result.
    ///
    /// The poll thread runs it between two polls: what it had polled is handed over (or purged) before, and every
    /// later poll returns records of the new position only (librdkafka drops messages of an older fetch version).
    /// Run anywhere else, a batch polled at the old position could be handed over after the purge, or a purge after
    /// the seek could drop records fetched at the new one.
    func seek(_ offsets: [KafkaTopicPartitionOffset], timeout: Duration) async -> KafkaError? {
        await withCheckedContinuation { continuation in
            let queued = state.withLock { state -> Bool in
                guard state.lifecycle == .polling else { return false }
                state.pendingSeeks.append(PendingSeek(offsets: offsets, timeout: timeout, continuation: continuation))
                return true
            }
            if queued {
                wakePollThread()
            } else {
                continuation.resume(returning: Self.notPolling)
            }
        }
    }

    static let notPolling = KafkaError(code: .state, operation: "seek",
                                       message: "the consumer is not polling: subscribe first (a closed consumer cannot seek)")

    /// Runs the queued seeks (poll thread, between polls, outside every lock).
    ///
    /// Records of a sought partition polled before are dropped from the hand-off, and a reader of ``KafkaConsumer/batches``
    /// that took a batch of them before the purge leaves them out: the partition counts as assigned anew.
    func performSeeks(rk: OpaquePointer) {
        let seeks = state.withLock { state in
            defer { state.pendingSeeks.removeAll() }
            return state.pendingSeeks
        }
        for seek in seeks {
            let partitions = Set(seek.offsets.map(\.topicPartition))
            let generation = self.generation.add(1, ordering: .relaxed).newValue
            state.withLock { state in
                for partition in partitions where state.assignment.contains(partition) { state.assignedAt[partition] = generation }
            }
            handoff.purge(partitions)
            let list = RDKafkaTopicPartitionList(seek.offsets)
            var failure = list.withPointer { pointer in
                rd_kafka_seek_partitions(rk, pointer, Int32(clamping: seek.timeout.wholeMilliseconds))
                    .map { KafkaError(consuming: $0, operation: "seek") }
            }
            if failure == nil, let (_, error) = list.errors(operation: "seek").first { failure = error }
            seek.continuation.resume(returning: failure)
        }
    }

    /// Seeks still queued when the consumer closes (under the state lock that marks it closed).
    static func cancelSeeks(_ state: inout State) -> [PendingSeek] {
        defer { state.pendingSeeks.removeAll() }
        return state.pendingSeeks
    }
}
