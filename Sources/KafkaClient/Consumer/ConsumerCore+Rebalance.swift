internal import Crdkafka
import Dispatch

extension ConsumerCore {
    /// librdkafka's rebalance callback, on the poll thread (or the thread closing the consumer).
    ///
    /// Revoke: drop buffered records of the partitions, run the revoke hook and wait for it (bounded),
    /// then give the partitions up. Assign: take the partitions, pause them if the buffer is full, run the
    /// assign hook. Eager and cooperative protocols differ only in the assign/unassign calls.
    func handleRebalance(rk: OpaquePointer, err: rd_kafka_resp_err_t,
                         list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = RDKafkaTopicPartitionList.partitions(of: list).sorted()
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let failure: KafkaError? = cooperative
                ? rd_kafka_incremental_assign(rk, list).map { KafkaError(consuming: $0, operation: "assign") }
                : Self.failure(rd_kafka_assign(rk, list), operation: "assign")
            if let failure {
                handleError(failure)
                return
            }
            state.withLock { state in
                state.assignment.formUnion(partitions)
                if state.backpressure {
                    let list = RDKafkaTopicPartitionList(partitions)
                    _ = rd_kafka_pause_partitions(rk, list.pointer)
                }
            }
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)", "protocol": "\(cooperative ? "cooperative" : "eager")"])
            emit(KafkaConsumerEvent(kind: .assigned, partitions: partitions))
            runHook("assign") { [hooks] in await hooks.onAssign(partitions) }

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            handoff.purge(Set(partitions))
            logger.info(lost ? "partitions lost" : "partitions revoked", metadata: ["partitions": "\(partitions)"])
            emit(KafkaConsumerEvent(kind: lost ? .lost : .revoked, partitions: partitions))
            runHook("revoke") { [hooks] in await hooks.onRevoke(partitions, lost) }
            let failure: KafkaError? = cooperative
                ? rd_kafka_incremental_unassign(rk, list).map { KafkaError(consuming: $0, operation: "unassign") }
                : Self.failure(rd_kafka_assign(rk, nil), operation: "unassign")
            if let failure { handleError(failure) }
            state.withLock { state in
                state.assignment.subtract(partitions)
                state.userPaused.subtract(partitions)
            }

        default:
            handleError(KafkaError(rdCode: err, operation: "rebalance"))
            _ = rd_kafka_assign(rk, nil)
            state.withLock { state in
                state.assignment.removeAll()
                state.userPaused.removeAll()
            }
        }
    }

    /// Runs a hook on the cooperative pool and blocks this (poll) thread until it returns or times out.
    private func runHook(_ name: String, _ body: @escaping @Sendable () async -> Void) {
        let done = DispatchSemaphore(value: 0)
        Task {
            await body()
            done.signal()
        }
        let timeout = configuration.rebalanceHookTimeout
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout.wholeMilliseconds))
        if done.wait(timeout: deadline) == .timedOut {
            logger.error("rebalance hook timed out; the rebalance goes on without it",
                         metadata: ["hook": "\(name)", "timeout_ms": "\(timeout.wholeMilliseconds)"])
            emit(KafkaConsumerEvent(
                kind: .hookTimedOut,
                error: KafkaError(code: .timedOut, operation: "\(name) hook",
                                  message: "the \(name) hook did not return within \(timeout.wholeMilliseconds) ms")))
        }
    }

    private static func failure(_ err: rd_kafka_resp_err_t, operation: String) -> KafkaError? {
        err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(rdCode: err, operation: operation)
    }
}
