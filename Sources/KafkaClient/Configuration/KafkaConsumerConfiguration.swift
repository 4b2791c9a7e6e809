/// Configuration of a ``KafkaConsumer``. Required values go in `init`; everything else has a documented default.
///
/// Defaults follow librdkafka's where they are safe; the source chapter's values are noted where they differ.
/// Validation happens when a consumer is created, with an error naming the key and the accepted range.
public struct KafkaConsumerConfiguration: Sendable, CustomStringConvertible {
    /// Group membership timing. Under the consumer group protocol (KIP-848) `timeout` and `heartbeatInterval` are the
    /// broker's and must keep their defaults; `maxPollInterval` applies to both protocols.
    public struct Session: Sendable, Hashable {
        /// `session.timeout.ms` (default 45 s; the chapter used 30 s). Range 1 ms...3600 s.
        public var timeout: Duration = .seconds(45)
        /// `heartbeat.interval.ms` (default 3 s). Must be lower than `timeout`.
        public var heartbeatInterval: Duration = .seconds(3)
        /// `max.poll.interval.ms` (default 300 s, as in the chapter). At least `timeout`.
        /// librdkafka 2.0.2 resets this timer on any poll, so it never catches a hung handler:
        /// the worker runtime has its own watchdog for that.
        public var maxPollInterval: Duration = .seconds(300)
        public init() {}
    }

    /// Prefetch knobs.
    public struct Fetch: Sendable, Hashable {
        /// `fetch.min.bytes` (default 1, as in the chapter). Range 1...100000000.
        public var minBytes: Int = 1
        /// `fetch.wait.max.ms` (default 500 ms; the chapter used 5000 ms). Range 0...300000 ms.
        public var maxWait: Duration = .milliseconds(500)
        /// `max.partition.fetch.bytes` (default 1 MiB, as in the chapter). Range 1...1000000000.
        public var maxPartitionBytes: Int = 1_048_576
        /// `queued.min.messages` (default 1,000,000; librdkafka's is 100,000): prefetched records at which
        /// fetching stops. librdkafka 2.0.2 counts the whole consumer queue against it, and once over it a
        /// partition may wait up to a second for its next fetch — so the default is high, and memory is bounded
        /// by `maxQueuedKilobytes` instead. Range 1...10000000.
        public var maxQueuedMessages: Int = 1_000_000
        /// `queued.max.messages.kbytes` (default 65,536 KiB): prefetched data at which fetching stops.
        /// Range 1...2097151.
        public var maxQueuedKilobytes: Int = 65_536
        /// Whether records carry their headers (default `true`). Headers are parsed on first use: librdkafka
        /// 2.0.2 allocates while parsing a record's headers even when it has none, so a batch's messages are kept
        /// (at most 1 s, never past `close()`) until its headers are asked for or its records are gone. `false`
        /// leaves headers out and frees each message as soon as its record is built; a worker's dead letters then
        /// carry no original headers (their `dlq.*` ones remain).
        public var readHeaders: Bool = true
        public init() {}
    }

    /// How offsets are stored and committed.
    public struct Commit: Sendable, Hashable {
        /// `enable.auto.commit` (default `true`): librdkafka commits *stored* offsets every `interval`.
        /// Offsets are only stored by ``KafkaConsumer/storeOffsets(_:)`` (`enable.auto.offset.store=false`),
        /// so nothing is committed before the application says a record is finished.
        public var autoCommit: Bool = true
        /// `auto.commit.interval.ms` (default 5 s). Range 1 ms...86400 s.
        public var interval: Duration = .seconds(5)
        public init() {}
    }

    /// `auto.offset.reset`: where a group without a committed offset starts.
    public struct OffsetReset: Sendable, Hashable {
        public let rawValue: String
        /// From the oldest retained record (the default: a new group never skips existing data).
        public static let earliest = OffsetReset(rawValue: "earliest")
        /// From the end: only records produced after the group joined (the chapter's `fromBeginning: false`).
        public static let latest = OffsetReset(rawValue: "latest")
        /// Fail with an error instead of guessing.
        public static let error = OffsetReset(rawValue: "error")
    }

    /// `partition.assignment.strategy` (classic group protocol).
    public struct AssignmentStrategy: Sendable, Hashable {
        public let rawValue: String
        /// Eager protocol: every rebalance revokes everything, then assigns.
        public static let eager = AssignmentStrategy(rawValue: "range,roundrobin")
        /// Incremental cooperative rebalancing.
        public static let cooperativeSticky = AssignmentStrategy(rawValue: "cooperative-sticky")
        /// Cooperative on librdkafka ≥ 2.10, eager before: older versions can lose the assignment when
        /// a commit races a cooperative rebalance (librdkafka #4059, fixed in 2.10.0).
        public static let automatic = AssignmentStrategy(rawValue: "")

        /// The strategy for the librdkafka version in use.
        func resolved(libraryVersion: Int32) -> AssignmentStrategy {
            guard self == .automatic else { return self }
            return libraryVersion >= 0x020A_0000 ? .cooperativeSticky : .eager
        }
    }

    /// The hand-off from the poll thread to the application.
    public struct Handoff: Sendable, Hashable {
        /// Most records in one batch (default 1,000). Range 1...100000.
        public var maxBatchSize: Int = 1_000
        /// Records buffered for the application at which fetching pauses (default 10,000).
        public var highWatermark: Int = 10_000
        /// Records buffered at which fetching resumes (default 5,000). Lower than `highWatermark`.
        public var lowWatermark: Int = 5_000
        /// Bytes (keys + values) buffered at which fetching pauses too, whichever limit comes first
        /// (default 64 MiB). Range 64 KiB...16 GiB.
        public var highWatermarkBytes: Int = 64 << 20
        /// Bytes buffered at which fetching resumes (default 32 MiB). Lower than `highWatermarkBytes`.
        public var lowWatermarkBytes: Int = 32 << 20
        /// How long the poll thread waits for a reader that is behind before it pauses fetching (default 200 ms).
        /// It serves no callbacks while it waits, so this also delays rebalances by at most as much.
        public var pauseAfter: Duration = .milliseconds(200)
        public init() {}
    }

    public var connection: KafkaConnectionConfiguration
    /// `group.id`. Required.
    public var groupID: String
    public var session = Session()
    public var fetch = Fetch()
    public var commit = Commit()
    /// `auto.offset.reset` (default `.earliest`).
    public var autoOffsetReset: OffsetReset = .earliest
    /// `partition.assignment.strategy` (default `.automatic`, see ``AssignmentStrategy/automatic``). Classic
    /// protocol only.
    public var assignmentStrategy: AssignmentStrategy = .automatic
    /// `group.protocol` (default `.classic`). `.consumer` (KIP-848) needs librdkafka 2.12+ at run time and is
    /// refused at start-up otherwise, or when `session.timeout`, `session.heartbeatInterval` or
    /// `assignmentStrategy` are changed from their defaults (the broker decides them under that protocol).
    public var groupProtocol: GroupProtocol = .classic
    /// `group.remote.assignor` (default `nil`: the broker chooses). Consumer protocol only.
    public var remoteAssignor: RemoteAssignor?
    public var handoff = Handoff()
    /// How long the poll thread awaits a revoke's drain hook (``KafkaRebalanceHooks``) before it completes the
    /// revoke without it (default 30 s). Keep it below `max.poll.interval.ms`, the group's rebalance timeout.
    public var rebalanceHookTimeout: Duration = .seconds(30)

    public init(bootstrapServers: [String], groupID: String) {
        self.connection = KafkaConnectionConfiguration(bootstrapServers: bootstrapServers)
        self.groupID = groupID
    }

    public var description: String {
        "KafkaConsumerConfiguration(group.id=\(groupID) \(connection))"
    }

    /// Checks every value; throws an error naming the first bad key.
    public func validate() throws(KafkaConfigurationError) {
        _ = try properties(libraryVersion: KafkaLibrary.versionNumber)
    }

    func properties(libraryVersion: Int32) throws(KafkaConfigurationError) -> KafkaProperties {
        var props = KafkaProperties()
        try connection.apply(to: &props)
        guard !groupID.isEmpty else {
            throw KafkaConfigurationError(key: "group.id", message: "must not be empty")
        }
        props["group.id"] = groupID
        try applyGroupProtocol(to: &props, libraryVersion: libraryVersion)
        try props.set("fetch.min.bytes", fetch.minBytes, in: 1...100_000_000)
        try props.set("fetch.wait.max.ms", fetch.maxWait, in: 0...300_000)
        try props.set("max.partition.fetch.bytes", fetch.maxPartitionBytes, in: 1...1_000_000_000)
        try props.set("queued.min.messages", fetch.maxQueuedMessages, in: 1...10_000_000)
        try props.set("queued.max.messages.kbytes", fetch.maxQueuedKilobytes, in: 1...2_097_151)
        props["enable.auto.commit"] = commit.autoCommit ? "true" : "false"
        try props.set("auto.commit.interval.ms", commit.interval, in: 1...86_400_000)
        props["enable.auto.offset.store"] = "false"
        props["auto.offset.reset"] = autoOffsetReset.rawValue
        guard [OffsetReset.earliest, .latest, .error].contains(autoOffsetReset) else {
            throw KafkaConfigurationError(
                key: "auto.offset.reset", message: "\"\(autoOffsetReset.rawValue)\" is not one of: earliest, latest, error")
        }
        // The framework's own keys: checked, not handed to librdkafka.
        try KafkaProperties.check("handoff.maxBatchSize", handoff.maxBatchSize, in: 1...100_000)
        try KafkaProperties.check(
            "handoff.highWatermark", handoff.highWatermark, in: handoff.maxBatchSize...10_000_000)
        try KafkaProperties.check("handoff.lowWatermark", handoff.lowWatermark, in: 0...(handoff.highWatermark - 1))
        try KafkaProperties.check("handoff.highWatermarkBytes", handoff.highWatermarkBytes, in: (64 << 10)...(16 << 30))
        try KafkaProperties.check("handoff.lowWatermarkBytes", handoff.lowWatermarkBytes, in: 0...(handoff.highWatermarkBytes - 1))
        try KafkaProperties.check("rebalanceHookTimeout", rebalanceHookTimeout, in: 1...3_600_000)
        try KafkaProperties.check("handoff.pauseAfter", handoff.pauseAfter, in: 0...60_000)
        try connection.applyAdditional(to: &props, reserved: Self.reservedProperties)
        return props
    }

    /// Consumer properties that raw `additionalProperties` may not set, and what to use instead.
    static let reservedProperties: [String: String] = [
        "enable.auto.offset.store": "offsets are stored only for finished records (at-least-once); it cannot be turned on",
        "group.id": "use groupID",
        "enable.auto.commit": "use commit.autoCommit",
        "auto.commit.interval.ms": "use commit.interval",
        "partition.assignment.strategy": "use assignmentStrategy",
        "group.protocol.type": "the group protocol is the consumer's own",
        "group.protocol": "use groupProtocol",
        "group.remote.assignor": "use remoteAssignor",
        "session.timeout.ms": "use session.timeout",
        "heartbeat.interval.ms": "use session.heartbeatInterval",
        "max.poll.interval.ms": "use session.maxPollInterval",
        "auto.offset.reset": "use autoOffsetReset",
        "bootstrap.servers": "use bootstrapServers",
        "client.id": "use clientID",
    ]
}
