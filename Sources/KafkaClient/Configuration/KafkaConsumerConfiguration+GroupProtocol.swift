extension KafkaConsumerConfiguration {
    /// `group.protocol`: how the group's members share the partitions.
    public struct GroupProtocol: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        /// The classic protocol (JoinGroup/SyncGroup): a member computes the assignment, eager or cooperative by
        /// ``KafkaConsumerConfiguration/assignmentStrategy``. The default.
        public static let classic = GroupProtocol(rawValue: "classic")
        /// KIP-848's consumer protocol (ConsumerGroupHeartbeat): the broker computes the assignment
        /// (``KafkaConsumerConfiguration/remoteAssignor``), rebalances are always incremental, and session timing
        /// is the broker's (`group.consumer.session.timeout.ms`, `group.consumer.heartbeat.interval.ms`). Needs
        /// librdkafka 2.12 or newer at run time and a broker that speaks it (Kafka 4.0+). With it, `session.timeout`,
        /// `session.heartbeatInterval` and `assignmentStrategy` must keep their defaults.
        public static let consumer = GroupProtocol(rawValue: "consumer")

        public var description: String { rawValue }
    }

    /// `group.remote.assignor`: the broker's assignor under the consumer protocol.
    public struct RemoteAssignor: Sendable, Hashable {
        public let rawValue: String
        /// Spreads partitions evenly over the members (the broker's default).
        public static let uniform = RemoteAssignor(rawValue: "uniform")
        /// Co-partitions topics, like the classic range assignor (but sticky).
        public static let range = RemoteAssignor(rawValue: "range")
        /// Another assignor the broker knows.
        public init(rawValue: String) { self.rawValue = rawValue }
    }

    /// The first librdkafka with a production-ready consumer protocol (KIP-848 GA in 2.12.0).
    static let consumerProtocolMinimumVersion: Int32 = KafkaLibrary.encoded(2, 12, 0)

    /// Sets `group.protocol` and its companions, or the classic protocol's own timing and strategy.
    func applyGroupProtocol(to props: inout KafkaProperties, libraryVersion: Int32) throws(KafkaConfigurationError) {
        switch groupProtocol {
        case .classic:
            if let remoteAssignor {
                throw KafkaConfigurationError(
                    key: "group.remote.assignor",
                    message: "\"\(remoteAssignor.rawValue)\" is only used with group.protocol=consumer (KIP-848); "
                        + "the classic protocol takes assignmentStrategy (partition.assignment.strategy)")
            }
            // librdkafka before 2.12 does not know the key: leave it out, the protocol is classic anyway.
            if libraryVersion >= Self.consumerProtocolMinimumVersion { props["group.protocol"] = "classic" }
            try applyClassicSession(to: &props, libraryVersion: libraryVersion)
        case .consumer:
            guard libraryVersion >= Self.consumerProtocolMinimumVersion else {
                throw KafkaConfigurationError(
                    key: "group.protocol",
                    message: "consumer (KIP-848) needs librdkafka 2.12 or newer at run time; the loaded librdkafka is "
                        + "\(Self.versionText(libraryVersion)). Use groupProtocol = .classic, or run with a newer librdkafka")
            }
            // KIP-848 leaves these to the broker; librdkafka refuses them with group.protocol=consumer.
            let defaults = Session()
            let notAllowed = "is not allowed with group.protocol=consumer (KIP-848)"
            guard session.timeout == defaults.timeout else {
                throw KafkaConfigurationError(
                    key: "session.timeout.ms",
                    message: "\(notAllowed): the broker's group.consumer.session.timeout.ms applies; leave session.timeout at its default")
            }
            guard session.heartbeatInterval == defaults.heartbeatInterval else {
                throw KafkaConfigurationError(
                    key: "heartbeat.interval.ms",
                    message: "\(notAllowed): the broker's group.consumer.heartbeat.interval.ms applies; leave session.heartbeatInterval at its default")
            }
            guard assignmentStrategy == .automatic else {
                throw KafkaConfigurationError(
                    key: "partition.assignment.strategy",
                    message: "\(notAllowed): the broker assigns partitions (set remoteAssignor, group.remote.assignor); "
                        + "leave assignmentStrategy at .automatic")
            }
            props["group.protocol"] = "consumer"
            if let remoteAssignor {
                guard !remoteAssignor.rawValue.isEmpty else {
                    throw KafkaConfigurationError(key: "group.remote.assignor", message: "must not be empty (nil lets the broker choose)")
                }
                props["group.remote.assignor"] = remoteAssignor.rawValue
            }
            try props.set("max.poll.interval.ms", session.maxPollInterval, in: 1...86_400_000)
        default:
            throw KafkaConfigurationError(
                key: "group.protocol", message: "\"\(groupProtocol.rawValue)\" is not one of: classic, consumer")
        }
    }

    /// The classic protocol's session timing and assignment strategy.
    private func applyClassicSession(to props: inout KafkaProperties, libraryVersion: Int32) throws(KafkaConfigurationError) {
        try props.set("session.timeout.ms", session.timeout, in: 1...3_600_000)
        try props.set("heartbeat.interval.ms", session.heartbeatInterval, in: 1...3_600_000)
        try props.set("max.poll.interval.ms", session.maxPollInterval, in: 1...86_400_000)
        guard session.heartbeatInterval < session.timeout else {
            throw KafkaConfigurationError(
                key: "heartbeat.interval.ms",
                message: "must be lower than session.timeout.ms (\(session.timeout.wholeMilliseconds) ms)")
        }
        guard session.maxPollInterval >= session.timeout else {
            throw KafkaConfigurationError(
                key: "max.poll.interval.ms",
                message: "must be at least session.timeout.ms (\(session.timeout.wholeMilliseconds) ms)")
        }
        let strategy = assignmentStrategy.resolved(libraryVersion: libraryVersion)
        guard [AssignmentStrategy.eager, .cooperativeSticky].contains(strategy) else {
            throw KafkaConfigurationError(
                key: "partition.assignment.strategy",
                message: "\"\(strategy.rawValue)\" is not one of: range,roundrobin (eager), cooperative-sticky, automatic")
        }
        props["partition.assignment.strategy"] = strategy.rawValue
    }

    static func versionText(_ version: Int32) -> String {
        "\(version >> 24 & 0xFF).\(version >> 16 & 0xFF).\(version >> 8 & 0xFF)"
    }
}
