import Dispatch
import Logging
import Synchronization

/// Forces, through librdkafka's debug log (its log callback runs on the thread that logs), the interleaving in which
/// librdkafka drops an application's resume: `rd_kafka_resume_partitions` takes a version barrier for the partition,
/// logs "Resume <topic> [p] (vN)", then queues its op; librdkafka's own pause of the next cooperative round
/// ("Pausing fetchers … incremental rebalance", a later version) is queued and applied in between, and the resume
/// then arrives outdated and is dropped ("received outdated op PAUSE (vN)") — `rd_kafka_resume_partitions` still
/// answers no error.
///
/// Once ``arm()``ed: the next application "Resume" of `topic` waits until librdkafka applied a pause of that partition
/// with a later version; librdkafka's next "Pausing fetchers" of an incremental rebalance waits until that resume took
/// its version (so the library's pause comes after it, whichever thread gets there first). Each wait is bounded.
final class ResumeRaceHold: Sendable {
    struct State {
        var armed = false
        var used = false
        /// The application resume held: its partition and version.
        var held: (partition: Int32, version: Int)?
        /// librdkafka applied its own pause of that partition, with a later version, while the resume was held.
        var libraryPauseFirst = false
        /// librdkafka reported the held resume outdated (dropped).
        var resumeDropped = false
    }

    let topic: String
    let state = Mutex(State())
    private let resumeTookVersion = DispatchSemaphore(value: 0)
    private let libraryPaused = DispatchSemaphore(value: 0)
    static let bound = DispatchTimeInterval.seconds(20)

    init(topic: String) {
        self.topic = topic
    }

    /// Arms the hold once; returns `false` when it was armed before.
    func arm() -> Bool {
        state.withLock { state in
            guard !state.used else { return false }
            state.used = true
            state.armed = true
            return true
        }
    }

    /// A logger at debug level whose messages go through ``observe(_:)``.
    var logger: Logger {
        var logger = Logger(label: "resume-race") { [self] _ in Handler(hold: self) }
        logger.logLevel = .debug
        return logger
    }

    func observe(_ message: String) {
        if message.contains("[thrd:main]: Pausing fetchers for"), message.contains("incremental rebalance") {
            let wait = state.withLock { $0.armed && $0.held == nil }
            if wait { _ = resumeTookVersion.wait(timeout: .now() + Self.bound) }
        } else if message.contains("[thrd:app]: Resume \(topic) ["),
                  let (partition, version) = Self.partitionAndVersion(message, after: "Resume \(topic) [") {
            let hold = state.withLock { state -> Bool in
                guard state.armed else { return false }
                state.armed = false
                state.held = (partition, version)
                return true
            }
            guard hold else { return }
            resumeTookVersion.signal()
            _ = libraryPaused.wait(timeout: .now() + Self.bound)
        } else if message.contains("\(topic) ["), message.contains("received op PAUSE") || message.contains("received outdated op PAUSE"),
                  let (partition, version) = Self.partitionAndVersion(message, after: "\(topic) [") {
            let outdated = message.contains("received outdated op")
            let release = state.withLock { state -> Bool in
                guard let held = state.held, held.partition == partition else { return false }
                if outdated && version == held.version { state.resumeDropped = true }
                guard !outdated, version > held.version, !state.libraryPauseFirst else { return false }
                state.libraryPauseFirst = true
                return true
            }
            if release { libraryPaused.signal() }
        }
    }

    /// The partition after `prefix` ("… [3] …") and the first "(vN)" after it.
    private static func partitionAndVersion(_ message: String, after prefix: String) -> (Int32, Int)? {
        guard let start = message.range(of: prefix)?.upperBound,
              let close = message[start...].firstIndex(of: "]"),
              let partition = Int32(message[start..<close]),
              let versionStart = message[close...].range(of: "(v")?.upperBound else { return nil }
        let digits = message[versionStart...].prefix { $0.isNumber }
        guard let version = Int(digits) else { return nil }
        return (partition, version)
    }

    private struct Handler: LogHandler {
        let hold: ResumeRaceHold
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            hold.observe("\(event.message)")
        }
    }
}
