@testable import KafkaClient
import Testing

/// `group.protocol=consumer` (KIP-848) as a typed option: refused with the settings the broker owns under it, and on a
/// librdkafka older than 2.12. Plain values: the library version is a parameter.
@Suite("Group protocol configuration")
struct GroupProtocolConfigurationTests {
    static let v2_0_2: Int32 = 0x0200_02FF
    static let v2_11_1: Int32 = 0x020B_01FF
    static let v2_16_2: Int32 = 0x0210_02FF

    static func consumerProtocol(_ change: (inout KafkaConsumerConfiguration) -> Void = { _ in }) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g")
        configuration.groupProtocol = .consumer
        change(&configuration)
        return configuration
    }

    @Test("consumer protocol on librdkafka before 2.12: refused, naming group.protocol and the version loaded",
          arguments: [v2_0_2, v2_11_1])
    func refusedOnOldLibrary(version: Int32) {
        let error = #expect(throws: KafkaConfigurationError.self) {
            _ = try Self.consumerProtocol().properties(libraryVersion: version)
        }
        #expect(error?.key == "group.protocol")
        #expect(error?.message.contains("2.12") == true, "\(String(describing: error))")
        #expect(error?.message.contains(KafkaConsumerConfiguration.versionText(version)) == true, "\(String(describing: error))")
    }

    static let notAllowed: [(String, KafkaConsumerConfiguration)] = [
        ("session.timeout.ms", consumerProtocol { $0.session.timeout = .seconds(6) }),
        ("heartbeat.interval.ms", consumerProtocol { $0.session.heartbeatInterval = .seconds(1) }),
        ("partition.assignment.strategy", consumerProtocol { $0.assignmentStrategy = .cooperativeSticky }),
        ("partition.assignment.strategy", consumerProtocol { $0.assignmentStrategy = .eager }),
        ("additionalProperties[\"group.protocol.type\"]", consumerProtocol { $0.connection.additionalProperties["group.protocol.type"] = "consumer" }),
        ("additionalProperties[\"group.protocol\"]", consumerProtocol { $0.connection.additionalProperties["group.protocol"] = "classic" }),
        ("group.remote.assignor", consumerProtocol { $0.remoteAssignor = .init(rawValue: "") }),
    ]

    @Test("consumer protocol with a setting the broker owns under KIP-848: refused, naming the key", arguments: notAllowed)
    func refusedSettings(key: String, configuration: KafkaConsumerConfiguration) {
        let error = #expect(throws: KafkaConfigurationError.self) {
            _ = try configuration.properties(libraryVersion: Self.v2_16_2)
        }
        #expect(error?.key == key, "\(String(describing: error))")
    }

    @Test("consumer protocol on 2.16: group.protocol=consumer, no classic session or strategy keys")
    func consumerProperties() throws {
        let plain = try Self.consumerProtocol().properties(libraryVersion: Self.v2_16_2)
        #expect(plain["group.protocol"] == "consumer")
        for key in ["session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy", "group.protocol.type",
                    "group.remote.assignor"] {
            #expect(plain[key] == nil, "\(key)")
        }
        #expect(plain["max.poll.interval.ms"] == "300000")
        let ranged = try Self.consumerProtocol { $0.remoteAssignor = .range }.properties(libraryVersion: Self.v2_16_2)
        #expect(ranged["group.remote.assignor"] == "range")
    }

    @Test("classic protocol: a remote assignor is refused; group.protocol is named only where librdkafka knows it")
    func classicProperties() throws {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g")
        #expect(try configuration.properties(libraryVersion: Self.v2_0_2)["group.protocol"] == nil)
        #expect(try configuration.properties(libraryVersion: Self.v2_16_2)["group.protocol"] == "classic")
        #expect(try configuration.properties(libraryVersion: Self.v2_16_2)["session.timeout.ms"] == "45000")
        configuration.remoteAssignor = .uniform
        let error = #expect(throws: KafkaConfigurationError.self) {
            _ = try configuration.properties(libraryVersion: Self.v2_16_2)
        }
        #expect(error?.key == "group.remote.assignor")
        configuration.remoteAssignor = nil
        configuration.groupProtocol = .init(rawValue: "modern")
        #expect(throws: KafkaConfigurationError.self) { _ = try configuration.properties(libraryVersion: Self.v2_16_2) }
    }

    @Test("the librdkafka loaded takes our consumer-protocol properties",
          .enabled(if: KafkaLibrary.isAtLeast(2, 12), "group.protocol=consumer (KIP-848) exists from librdkafka 2.12"))
    func loadedLibraryAccepts() throws {
        // librdkafka itself refuses session.timeout.ms & co. with group.protocol=consumer: creating the client proves
        // the property set is one it accepts.
        _ = try KafkaConsumer(configuration: Self.consumerProtocol { $0.remoteAssignor = .uniform })
    }

    @Test("the consumer protocol is refused at start-up on the librdkafka loaded",
          .enabled(if: !KafkaLibrary.isAtLeast(2, 12), "this librdkafka (2.12+) supports group.protocol=consumer"))
    func loadedLibraryRefuses() {
        let error = #expect(throws: KafkaConfigurationError.self) { _ = try KafkaConsumer(configuration: Self.consumerProtocol()) }
        #expect(error?.key == "group.protocol")
        #expect(error?.message.contains(KafkaLibrary.version) == true, "\(String(describing: error))")
    }
}
