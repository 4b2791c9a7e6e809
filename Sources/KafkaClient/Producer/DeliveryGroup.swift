internal import Crdkafka
import Synchronization

/// Collects the delivery reports of records produced together and wakes the sender when all are in.
final class DeliveryGroup: Sendable {
    typealias Outcome = Result<KafkaDeliveryReport, KafkaError>

    private struct State {
        var outcomes: [Outcome?]
        var remaining: Int
        var waiter: CheckedContinuation<[Outcome], Never>?
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(outcomes: Array(repeating: nil, count: count), remaining: count))
    }

    func complete(_ index: Int, with outcome: Outcome) {
        let finished: (CheckedContinuation<[Outcome], Never>, [Outcome])? = state.withLock { state in
            guard state.outcomes[index] == nil else { return nil }
            state.outcomes[index] = outcome
            state.remaining -= 1
            guard state.remaining == 0, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.outcomes.map { $0! })
        }
        if let (waiter, outcomes) = finished { waiter.resume(returning: outcomes) }
    }

    /// Waits for every record's outcome, in the order the records were given.
    func wait() async -> [Outcome] {
        await withCheckedContinuation { continuation in
            let ready: [Outcome]? = state.withLock { state in
                if state.remaining == 0 { return state.outcomes.map { $0! } }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// The per-record opaque librdkafka carries to the delivery report callback.
final class DeliveryTicket: Sendable {
    let group: DeliveryGroup
    let index: Int
    /// The producer's count of records queued and not yet reported.
    let pending: Atomic<Int>.Box

    init(group: DeliveryGroup, index: Int, pending: Atomic<Int>.Box) {
        self.group = group
        self.index = index
        self.pending = pending
    }
}

extension Atomic where Value == Int {
    /// An atomic counter that can be shared by reference.
    final class Box: Sendable {
        let counter = Atomic<Int>(0)
    }
}

/// librdkafka's delivery report callback (`dr_msg_cb`), on the producer's poll thread.
let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?,
                                            UnsafeMutableRawPointer?) -> Void = { rk, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let ticket = Unmanaged<DeliveryTicket>.fromOpaque(opaque).takeRetainedValue()
    ticket.pending.counter.subtract(1, ordering: .relaxed)
    let msg = message.pointee
    if msg.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        let topic = String(cString: rd_kafka_topic_name(msg.rkt))
        ticket.group.complete(ticket.index, with: .success(KafkaDeliveryReport(
            topic: topic, partition: msg.partition, offset: msg.offset, timestamp: KafkaTimestamp(message: message))))
    } else {
        // Not `rd_kafka_message_errstr`: on a delivery report it returns the record's payload.
        let topic = String(cString: rd_kafka_topic_name(msg.rkt))
        var error = KafkaError(rdCode: msg.err, operation: "produce",
                               message: "\(KafkaError.Code(rawValue: msg.err.rawValue).explanation) (topic \(topic), "
                                   + "partition \(msg.partition == RD_KAFKA_PARTITION_UA ? "unassigned" : String(msg.partition)))")
        // A record that timed out because no broker could be reached: say why, if a handshake failure told us.
        if msg.err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, let rk,
           let problem = RDKafkaCallbacks.from(rd_kafka_opaque(rk))?.connectProblem.withLock({ $0?.error }) {
            error.message += "; the cluster could not be reached: \(problem.message)"
        }
        ticket.group.complete(ticket.index, with: .failure(error))
    }
}
