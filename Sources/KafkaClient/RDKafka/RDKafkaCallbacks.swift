internal import Crdkafka
import Logging
import Synchronization

/// The object librdkafka hands back to every callback (`rd_kafka_conf_set_opaque`).
///
/// The closures are set before the handle exists and never change, so callbacks need no lock.
/// They receive the `rd_kafka_t` pointer librdkafka passes, which keeps this object free of
/// references back to the client that owns it.
final class RDKafkaCallbacks: Sendable {
    typealias Rebalance = @Sendable (OpaquePointer, rd_kafka_resp_err_t,
                                     UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void

    let logger: Logger
    let secrets: [String]
    let onRebalance: Rebalance?
    let onError: (@Sendable (KafkaError) -> Void)?
    let onOffsetCommit: (@Sendable (KafkaError?, [KafkaTopicPartitionOffset]) -> Void)?
    /// The latest handshake failure retrying will not fix (see ``ConnectDiagnosis``), if any, and when it was seen.
    let connectProblem = Mutex<(error: KafkaError, at: ContinuousClock.Instant)?>(nil)
    /// When the client last had an answer from the cluster (at first, its creation): a handshake failure seen before
    /// that was fixed since and no longer ends a wait.
    let lastContact = Mutex(ContinuousClock.now)

    init(logger: Logger, secrets: [String], onRebalance: Rebalance? = nil,
         onError: (@Sendable (KafkaError) -> Void)? = nil,
         onOffsetCommit: (@Sendable (KafkaError?, [KafkaTopicPartitionOffset]) -> Void)? = nil) {
        self.logger = logger
        self.secrets = secrets
        self.onRebalance = onRebalance
        self.onError = onError
        self.onOffsetCommit = onOffsetCommit
    }

    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf, logCallback)
        rd_kafka_conf_set_error_cb(conf, errorCallback)
        if onRebalance != nil { rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback) }
        if onOffsetCommit != nil { rd_kafka_conf_set_offset_commit_cb(conf, offsetCommitCallback) }
    }

    /// The explained error for a handshake failure in `text` (scrubbed), remembered as ``connectProblem``.
    func diagnose(_ text: String) -> KafkaError? {
        guard let diagnosed = ConnectDiagnosis.diagnose(text, libraryVersion: KafkaLibrary.versionNumber,
                                                        libraryName: KafkaLibrary.version) else { return nil }
        connectProblem.withLock { $0 = (diagnosed, .now) }
        return diagnosed
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaCallbacks? {
        opaque.map { Unmanaged<RDKafkaCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    func log(level: Int32, facility: String, message: String) {
        let text = scrub(message, secrets: secrets)
        // Log lines come at once from librdkafka's threads; a consumer's errors wait for the next poll.
        if level <= 4 { _ = diagnose(text) }
        let swiftLevel: Logger.Level = switch level {
        case ...3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
        logger.log(level: swiftLevel, "\(text)", metadata: ["librdkafka.facility": "\(facility)"])
    }
}

private let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?)
    -> Void = { rk, level, facility, buffer in
        guard let rk, let callbacks = RDKafkaCallbacks.from(rd_kafka_opaque(rk)) else { return }
        callbacks.log(level: level, facility: facility.map { String(cString: $0) } ?? "",
                      message: buffer.map { String(cString: $0) } ?? "")
    }

private let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?)
    -> Void = { rk, err, reason, opaque in
        guard let rk, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
        var code = rd_kafka_resp_err_t(rawValue: err)
        var text = reason.map { String(cString: $0) } ?? ""
        var fatal = false
        if code == RD_KAFKA_RESP_ERR__FATAL {
            var buffer = [CChar](repeating: 0, count: 512)
            code = rd_kafka_fatal_error(rk, &buffer, buffer.count)
            text = String(cBuffer: buffer)
            fatal = true
        }
        var error = KafkaError(rdCode: code, operation: "client", message: scrub(text, secrets: callbacks.secrets))
        error.isFatal = fatal
        if var diagnosed = callbacks.diagnose(error.message) {
            diagnosed.isFatal = fatal
            error = diagnosed
        }
        callbacks.onError?(error)
    }

private let rebalanceCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    UnsafeMutableRawPointer?
) -> Void = { rk, err, partitions, opaque in
    guard let rk, let partitions, let callbacks = RDKafkaCallbacks.from(opaque) else { return }
    callbacks.onRebalance?(rk, err, partitions)
}

private let offsetCommitCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    UnsafeMutableRawPointer?
) -> Void = { _, err, offsets, opaque in
    guard let callbacks = RDKafkaCallbacks.from(opaque) else { return }
    let list = offsets.map { RDKafkaTopicPartitionList.offsets(of: $0) } ?? []
    // `_NO_OFFSET` means there was nothing new to commit: not a failure.
    let failed = err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET
    callbacks.onOffsetCommit?(failed ? KafkaError(rdCode: err, operation: "commit") : nil, list)
}
