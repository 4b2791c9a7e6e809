internal import Crdkafka

extension ConsumerCore {
    /// The poll thread's body: check the cluster is reachable, then poll until asked to stop, then close.
    ///
    /// Records are fetched with `rd_kafka_consumer_poll` (never the batch APIs, unsafe with rebalances and
    /// pause/resume on librdkafka < 2.1): one waiting poll, then non-waiting polls until the batch is full
    /// or the queue is empty. Rebalance, commit and error callbacks are served by the same polls.
    func pollLoop(client: RDKafkaClient) {
        let connection = configuration.connection
        do {
            try client.checkReachable(timeout: connection.connectTimeout, bootstrapServers: connection.bootstrapServers)
        } catch {
            var error = error
            // A diagnosed handshake failure says it all; a timeout is clearer with the last error librdkafka gave.
            if error.isRetriable, let last = state.withLock({ $0.lastError }) { error.message += "; last error: \(last.message)" }
            logger.error("cannot reach the Kafka cluster", metadata: ["error": "\(error)"])
            close(client: client, failure: error)
            return
        }

        let rk = client.pointer
        let maxBatch = configuration.handoff.maxBatchSize
        // Messages are handed over as they are; the reader converts them (see `RDKafkaMessageBatch`).
        var batch: [UnsafeMutablePointer<rd_kafka_message_t>] = []
        batch.reserveCapacity(maxBatch)
        var fatal: KafkaError?
        if let queue = rd_kafka_queue_get_consumer(rk) { pollQueue.withLock { $0 = RDKafkaQueue(pointer: queue) } }
        /// Hands over what was polled, tagged with the generation it was polled in.
        func push(generation: Int) {
            guard !batch.isEmpty else { return }
            handoff.push(RDKafkaMessageBatch(batch, client: client, registry: headerRegistry, generation: generation))
            batch = []
            batch.reserveCapacity(maxBatch)
        }

        while fatal == nil && state.withLock({ $0.lifecycle == .polling }) {
            // A reader briefly behind costs a short wait; only one that stays behind pauses fetching (a pause
            // discards librdkafka's prefetched records, and a resume waits for the next fetch round).
            if handoff.isAboveHigh && !state.withLock({ $0.backpressure })
                && !handoff.waitForRoom(timeout: configuration.handoff.pauseAfter) {
                enterBackpressure()
            }
            reconcilePauses()
            performSeeks(rk: rk)
            performCommits(rk: rk)
            headerRegistry.sweep()
            headerRegistry.freeRetired()
            var polledAt = generation.load(ordering: .relaxed)
            var message = rd_kafka_consumer_poll(rk, 100)
            while let current = message {
                // A rebalance served by this poll: what was polled before it belongs to the earlier generation.
                let now = generation.load(ordering: .relaxed)
                if now != polledAt {
                    push(generation: polledAt)
                    polledAt = now
                }
                if current.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    batch.append(current)
                } else {
                    fatal = consumeError(current)
                    rd_kafka_message_destroy(current)
                }
                message = (batch.count < maxBatch && fatal == nil) ? rd_kafka_consumer_poll(rk, 0) : nil
            }
            push(generation: polledAt)
        }
        close(client: client, failure: fatal)
    }

    /// A message carrying an error instead of a record. Returns the error if it is fatal.
    private func consumeError(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaError? {
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
        var error = KafkaError(rdCode: err, operation: "consume")
        // On a consumer error the payload is librdkafka's error text (not NUL-terminated).
        if let text = message.pointee.payload, message.pointee.len > 0 {
            error.message = String(decoding: UnsafeRawBufferPointer(start: text, count: message.pointee.len), as: UTF8.self)
        }
        if err == RD_KAFKA_RESP_ERR__FATAL { error.isFatal = true }
        handleError(error)
        return error.isFatal ? error : nil
    }

    /// Closes the consumer on this thread (the revoke callback runs here), then ends the record sequence.
    func close(client: RDKafkaClient, failure: KafkaError?) {
        let err = client.closeConsumer()
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            handleError(KafkaError(rdCode: err, operation: "close"))
        }
        // Records of a closed consumer are no one's: drop them now, while the client still lives; records
        // still held let go of their messages (their headers are parsed now).
        handoff.purgeAll()
        headerRegistry.releaseAll()
        if let queue = pollQueue.withLock({ queue in defer { queue = nil }; return queue }) { rd_kafka_queue_destroy(queue.pointer) }
        handoff.finish(error: failure)
        let (waiters, seeks) = state.withLock { state in
            state.lifecycle = .closed
            state.assignment.removeAll()
            state.assignedAt.removeAll()
            defer { state.closeWaiters.removeAll() }
            return (state.closeWaiters, Self.cancelSeeks(&state))
        }
        for seek in seeks { seek.continuation.resume(returning: Self.notPolling) }
        logger.info("consumer closed")
        finishEvents()
        for waiter in waiters { waiter.resume() }
    }
}
