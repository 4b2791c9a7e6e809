/// A Kafka protocol API key, for fault injection on the embedded cluster.
public struct KafkaAPI: Sendable, Hashable, CustomStringConvertible {
    public let key: Int16
    public let name: String

    public init(key: Int16, name: String) {
        self.key = key
        self.name = name
    }

    public var description: String { "\(name)(\(key))" }

    public static let produce = KafkaAPI(key: 0, name: "Produce")
    public static let fetch = KafkaAPI(key: 1, name: "Fetch")
    public static let listOffsets = KafkaAPI(key: 2, name: "ListOffsets")
    public static let metadata = KafkaAPI(key: 3, name: "Metadata")
    public static let offsetCommit = KafkaAPI(key: 8, name: "OffsetCommit")
    public static let offsetFetch = KafkaAPI(key: 9, name: "OffsetFetch")
    public static let findCoordinator = KafkaAPI(key: 10, name: "FindCoordinator")
    public static let joinGroup = KafkaAPI(key: 11, name: "JoinGroup")
    public static let heartbeat = KafkaAPI(key: 12, name: "Heartbeat")
    public static let leaveGroup = KafkaAPI(key: 13, name: "LeaveGroup")
    public static let syncGroup = KafkaAPI(key: 14, name: "SyncGroup")
    public static let apiVersions = KafkaAPI(key: 18, name: "ApiVersions")
    public static let createTopics = KafkaAPI(key: 19, name: "CreateTopics")
    public static let initProducerID = KafkaAPI(key: 22, name: "InitProducerId")
}
