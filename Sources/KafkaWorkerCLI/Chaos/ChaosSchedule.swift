import Foundation
import KafkaClient
import KafkaWorkerTesting

/// The kinds of fault a chaos run can inject.
enum ChaosFaultKind: String, CaseIterable, Sendable, Comparable {
    /// SIGKILL a worker, restart it shortly after.
    case kill
    /// SIGSTOP a worker for longer than the session timeout, then SIGCONT: a zombie member that wakes up.
    case zombie
    /// SIGTERM a worker (graceful stop), restart it when it has exited.
    case term
    /// Take a broker down for a few seconds (embedded cluster only).
    case broker
    /// Request errors on OffsetCommit, Fetch, JoinGroup, Heartbeat or Produce (embedded cluster only).
    case errors
    /// Move the group's coordinator to another broker (embedded cluster only).
    case coordinator
    /// Move a partition's leader to another broker (embedded cluster only).
    case leader
    /// Slow a broker's answers down for a few seconds (embedded cluster only).
    case rtt
    /// Restart PostgreSQL (needs --postgres-restart-command).
    case postgres

    /// Needs the embedded cluster (its fault-injection API).
    var needsEmbeddedCluster: Bool { [.broker, .errors, .coordinator, .leader, .rtt].contains(self) }

    static func < (lhs: Self, rhs: Self) -> Bool { allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)! }

    /// How often a kind is drawn, relative to the others: process faults are the headline.
    var weight: UInt64 {
        switch self {
        case .kill: 6
        case .zombie, .term, .errors: 2
        case .broker, .coordinator, .leader, .rtt, .postgres: 1
        }
    }
}

/// One fault at a point of the run, with everything the seed decided about it.
struct ChaosFault: Sendable, Equatable, CustomStringConvertible {
    enum Action: Sendable, Equatable {
        case kill(worker: Int, restartAfter: Duration)
        case zombie(worker: Int, stoppedFor: Duration)
        case term(worker: Int)
        case brokerDown(broker: Int32, downFor: Duration)
        case requestErrors(api: KafkaAPI, errors: [KafkaError.Code])
        case coordinator(broker: Int32)
        case leader(partition: Int32, broker: Int32)
        case rtt(broker: Int32, rtt: Duration, lasting: Duration)
        case postgresRestart
    }

    /// From the start of the fault phase.
    var at: Duration
    var action: Action

    var description: String {
        let when = String(format: "%6.1fs", Double(at.milliseconds) / 1000)
        switch action {
        case .kill(let worker, let after): return "\(when)  kill       worker \(worker), restart after \(Self.ms(after))"
        case .zombie(let worker, let stopped): return "\(when)  zombie     worker \(worker), SIGSTOP for \(Self.ms(stopped))"
        case .term(let worker): return "\(when)  term       worker \(worker) (graceful), restart when it exits"
        case .brokerDown(let broker, let down): return "\(when)  broker     \(broker) down for \(Self.ms(down))"
        case .requestErrors(let api, let errors): return "\(when)  errors     \(api.name): \(errors.map(\.name).joined(separator: ", "))"
        case .coordinator(let broker): return "\(when)  coordinator → broker \(broker)"
        case .leader(let partition, let broker): return "\(when)  leader     partition \(partition) → broker \(broker)"
        case .rtt(let broker, let rtt, let lasting): return "\(when)  rtt        broker \(broker) \(Self.ms(rtt)) for \(Self.ms(lasting))"
        case .postgresRestart: return "\(when)  postgres   restart"
        }
    }

    var kind: ChaosFaultKind {
        switch action {
        case .kill: .kill
        case .zombie: .zombie
        case .term: .term
        case .brokerDown: .broker
        case .requestErrors: .errors
        case .coordinator: .coordinator
        case .leader: .leader
        case .rtt: .rtt
        case .postgresRestart: .postgres
        }
    }

    static func ms(_ duration: Duration) -> String { "\(duration.milliseconds) ms" }
}

/// The fault schedule of a run: a function of the seed and the settings, so the same seed gives the same faults.
/// Every enabled kind occurs at least once (when the phase has room); the rest are drawn by weight.
struct ChaosSchedule: Sendable, Equatable {
    struct Settings: Sendable, Equatable {
        var duration: Duration
        var meanInterval: Duration
        var kinds: [ChaosFaultKind]
        var workers: Int
        var brokers: Int
        var partitions: Int
        /// A zombie is stopped this much longer than the session timeout.
        var sessionTimeout: Duration
    }

    let faults: [ChaosFault]

    /// The errors injected per API: retriable or group errors a client must survive without losing anything.
    static let requestErrors: [(api: KafkaAPI, errors: [KafkaError.Code])] = [
        (.offsetCommit, [.rebalanceInProgress, .requestTimedOut, .coordinatorNotAvailable, .notCoordinator]),
        (.fetch, [.notLeaderForPartition, .requestTimedOut, .leaderNotAvailable]),
        (.joinGroup, [.coordinatorLoadInProgress, .notCoordinator, .coordinatorNotAvailable]),
        (.heartbeat, [.notCoordinator, .coordinatorNotAvailable, .rebalanceInProgress]),
        (.produce, [.notLeaderForPartition, .requestTimedOut, .leaderNotAvailable]),
    ]

    init(seed: UInt64, settings: Settings) {
        var rng = SplitMix(seed: seed ^ 0x5EED_FA17)
        let kinds = settings.kinds.sorted()
        guard !kinds.isEmpty, settings.meanInterval > .zero, settings.duration > .zero else {
            faults = []
            return
        }
        let meanMs = max(1, settings.meanInterval.milliseconds)
        var times: [Int64] = []
        var t = Int64(rng.next() % UInt64(meanMs)) + meanMs / 2
        while t < settings.duration.milliseconds {
            times.append(t)
            // Between half and one and a half of the mean interval.
            t += meanMs / 2 + Int64(rng.next() % UInt64(meanMs))
        }
        // Every kind once, at seed-chosen places; the other slots by weight.
        var chosen: [ChaosFaultKind?] = Array(repeating: nil, count: times.count)
        var free = Array(times.indices)
        for kind in kinds where !free.isEmpty {
            let slot = Int(rng.next() % UInt64(free.count))
            chosen[free.remove(at: slot)] = kind
        }
        let total = kinds.reduce(0) { $0 + $1.weight }
        for index in chosen.indices where chosen[index] == nil {
            var pick = rng.next() % total
            for kind in kinds {
                if pick < kind.weight { chosen[index] = kind; break }
                pick -= kind.weight
            }
        }
        faults = zip(times, chosen).map { time, kind in
            ChaosFault(at: .milliseconds(time), action: Self.action(kind!, settings: settings, rng: &rng))
        }
    }

    private static func action(_ kind: ChaosFaultKind, settings: Settings, rng: inout SplitMix) -> ChaosFault.Action {
        func pick(_ count: Int) -> Int { Int(rng.next() % UInt64(max(1, count))) }
        func ms(_ low: Int64, _ high: Int64) -> Duration { .milliseconds(low + Int64(rng.next() % UInt64(high - low + 1))) }
        let broker = Int32(1 + pick(settings.brokers))
        switch kind {
        case .kill: return .kill(worker: pick(settings.workers), restartAfter: ms(200, 2_000))
        case .zombie: return .zombie(worker: pick(settings.workers), stoppedFor: settings.sessionTimeout + ms(1_000, 4_000))
        case .term: return .term(worker: pick(settings.workers))
        case .broker: return .brokerDown(broker: broker, downFor: ms(2_000, 6_000))
        case .errors:
            let (api, errors) = requestErrors[pick(requestErrors.count)]
            let chosen = (0..<(1 + pick(3))).map { _ in errors[pick(errors.count)] }
            return .requestErrors(api: api, errors: chosen)
        case .coordinator: return .coordinator(broker: broker)
        case .leader: return .leader(partition: Int32(pick(settings.partitions)), broker: broker)
        case .rtt: return .rtt(broker: broker, rtt: ms(200, 800), lasting: ms(2_000, 5_000))
        case .postgres: return .postgresRestart
        }
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
