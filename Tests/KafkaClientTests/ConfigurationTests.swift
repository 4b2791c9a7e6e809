@testable import KafkaClient
import Testing

@Suite("Configuration validation and secrets")
struct ConfigurationTests {
    static func consumer(_ change: (inout KafkaConsumerConfiguration) -> Void) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9092"], groupID: "g")
        change(&configuration)
        return configuration
    }

    static let badValues: [(String, String, KafkaConsumerConfiguration)] = [
        ("session.timeout.ms", "1...3600000", consumer { $0.session.timeout = .zero }),
        ("heartbeat.interval.ms", "lower than session.timeout.ms", consumer { $0.session.heartbeatInterval = .seconds(60) }),
        ("max.poll.interval.ms", "at least session.timeout.ms", consumer { $0.session.maxPollInterval = .seconds(10) }),
        ("fetch.min.bytes", "1...100000000", consumer { $0.fetch.minBytes = 0 }),
        ("fetch.wait.max.ms", "0...300000", consumer { $0.fetch.maxWait = .seconds(301) }),
        ("max.partition.fetch.bytes", "1...1000000000", consumer { $0.fetch.maxPartitionBytes = -5 }),
        ("auto.commit.interval.ms", "1...86400000", consumer { $0.commit.interval = .zero }),
        ("bootstrap.servers", "host:port", consumer { $0.connection.bootstrapServers = ["localhost"] }),
        ("bootstrap.servers", "1...65535", consumer { $0.connection.bootstrapServers = ["localhost:70000"] }),
        ("bootstrap.servers", "at least one", consumer { $0.connection.bootstrapServers = [] }),
        ("group.id", "empty", consumer { $0.groupID = "" }),
        ("handoff.lowWatermark", "0...", consumer { $0.handoff.lowWatermark = $0.handoff.highWatermark }),
        ("connectTimeout", "1...3600000", consumer { $0.connection.connectTimeout = .milliseconds(-1) }),
        ("sasl.mechanisms", "needs SASL credentials", consumer { $0.connection.security.securityProtocol = .saslSSL }),
    ]

    @Test("each bad value is rejected at construction, naming the key and what is accepted",
          arguments: badValues)
    func badValueNamesKey(key: String, accepted: String, configuration: KafkaConsumerConfiguration) {
        let error = #expect(throws: KafkaConfigurationError.self) {
            _ = try KafkaConsumer(configuration: configuration)
        }
        #expect(error?.key == key)
        #expect(error?.description.contains(accepted) == true, "\(String(describing: error))")
    }

    @Test("raw properties are checked by librdkafka, and the error names the key")
    func rawPropertyRejected() {
        let error = #expect(throws: KafkaConfigurationError.self) {
            _ = try KafkaConsumer(configuration: Self.consumer { $0.connection.additionalProperties["queued.min.messages"] = "lots" })
        }
        #expect(error?.key == "queued.min.messages")
        let unknown = #expect(throws: KafkaConfigurationError.self) {
            _ = try KafkaConsumer(configuration: Self.consumer { $0.connection.additionalProperties["no.such.property"] = "1" })
        }
        #expect(unknown?.key == "no.such.property")
    }

    @Test("producer: idempotence needs acks=all, and bad values name their key")
    func producerValidation() {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:9092"])
        configuration.acks = .leader
        #expect(throws: KafkaConfigurationError(key: "acks", message: "the idempotent producer needs acks=all (-1); set idempotent = false to use acks=1")) {
            try configuration.validate()
        }
        configuration.idempotent = false
        #expect(throws: Never.self) { try configuration.validate() }
        configuration.linger = .seconds(901)
        #expect((try? configuration.validate()) == nil)
        #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
    }

    @Test("turning TLS verification off needs an explicit bypass")
    func tlsVerificationBypass() {
        var tls = KafkaSecurityConfiguration.TLS()
        tls.verifyCertificates = false
        let configuration = Self.consumer { $0.connection.security = .init(securityProtocol: .ssl, tls: tls) }
        let error = #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
        #expect(error?.key == "enable.ssl.certificate.verification")
    }

    @Test("raw properties cannot downgrade the typed security settings (TLS off, a SASL password in clear)",
          arguments: [("security.protocol", "sasl_plaintext"), ("security.protocol", "plaintext"), ("sasl.mechanisms", "PLAIN"),
                      ("sasl.mechanism", "PLAIN")])
    func securityDowngradeRefused(key: String, value: String) {
        let sasl = KafkaSecurityConfiguration.SASL(mechanism: .scramSHA512, username: "svc", password: KafkaSecret("pw"))
        let configuration = Self.consumer {
            $0.connection.security = .init(securityProtocol: .saslSSL, sasl: sasl)
            $0.connection.additionalProperties[key] = value
        }
        let error = #expect(throws: KafkaConfigurationError.self) { _ = try KafkaConsumer(configuration: configuration) }
        #expect(error?.key == "additionalProperties[\"\(key)\"]", "\(String(describing: error))")
    }

    @Test("secrets never appear in descriptions or errors")
    func secretsStayHidden() {
        let canary = "canary-Secret-9f3c"
        let sasl = KafkaSecurityConfiguration.SASL(mechanism: .scramSHA512, username: "svc", password: KafkaSecret(canary))
        var configuration = Self.consumer {
            $0.connection.security = .init(securityProtocol: .saslSSL, sasl: sasl,
                                           tls: .init(keyLocation: "/nonexistent/key.pem", keyPassword: KafkaSecret(canary)))
            $0.connection.additionalProperties["sasl.oauthbearer.client.secret"] = canary
        }
        #expect(!configuration.description.contains(canary))
        #expect(!String(reflecting: sasl.password).contains(canary))
        // librdkafka fails to load the key: the error must not carry the password.
        let error = #expect(throws: KafkaConfigurationError.self) { _ = try KafkaConsumer(configuration: configuration) }
        #expect(error != nil)
        #expect(!String(describing: error).contains(canary))
        // Text from librdkafka is scrubbed of every secret value before it is shown.
        configuration.connection.additionalProperties["sasl.password"] = canary
        let properties = try? configuration.properties(libraryVersion: KafkaLibrary.versionNumber)
        #expect(properties?.secretValues.contains(canary) == true)
        #expect(scrub("login with \(canary) failed", secrets: properties?.secretValues ?? []) == "login with [REDACTED] failed")
    }

    @Test("automatic assignment strategy: eager before librdkafka 2.10, cooperative from 2.10")
    func automaticStrategy() throws {
        typealias Strategy = KafkaConsumerConfiguration.AssignmentStrategy
        #expect(Strategy.automatic.resolved(libraryVersion: 0x0200_02FF) == .eager)
        #expect(Strategy.automatic.resolved(libraryVersion: 0x0209_FFFF) == .eager)
        #expect(Strategy.automatic.resolved(libraryVersion: 0x020A_0000) == .cooperativeSticky)
        #expect(Strategy.eager.resolved(libraryVersion: 0x020B_0000) == .eager)
        #expect(Strategy.cooperativeSticky.resolved(libraryVersion: 0x0200_0200) == .cooperativeSticky)
        let properties = try Self.consumer { _ in }.properties(libraryVersion: KafkaLibrary.versionNumber)
        let expected = KafkaLibrary.versionNumber < 0x020A_0000 ? "range,roundrobin" : "cooperative-sticky"
        #expect(properties["partition.assignment.strategy"] == expected)
        #expect(properties["enable.auto.offset.store"] == "false")
    }

    @Test("error codes carry librdkafka names and flags")
    func errorNames() {
        #expect(KafkaError.Code.transport.name == "_TRANSPORT")
        #expect(KafkaError.Code.notCoordinator.name == "NOT_COORDINATOR")
        #expect(KafkaError.Code.state.explanation.isEmpty == false)
        let error = KafkaError(code: .rebalanceInProgress, operation: "commit", message: "m", isRetriable: true)
        #expect(error.description == "KafkaError(REBALANCE_IN_PROGRESS, commit): m")
    }
}
