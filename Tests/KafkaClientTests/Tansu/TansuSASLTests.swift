import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

/// SASL against Tansu 0.6. With `--authentication` and in-memory storage no user can exist (creating one needs an
/// authenticated connection), so what can be tested for real is refusal: fast, clear, and without the password.
@Suite("Tansu: SASL refusals never show the password", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: TansuSupport.runs, TansuSupport.reason))
struct TansuSASLTests {
    @Test("SCRAM-SHA-256 with an unknown user fails the start within 3 s; the password is in no log line or error")
    func scramCanary() async throws {
        try await TansuBroker.with(authentication: true) { broker in
            let canary = "canary-Scram-4b2f81"
            let capture = LogCapture()
            var configuration = KafkaTesting.consumerConfiguration(bootstrapServers: broker.bootstrapServers,
                                                                   group: KafkaTesting.unique("g"))
            configuration.connection.security = .init(
                securityProtocol: .saslPlaintext,
                sasl: .init(mechanism: .scramSHA256, username: "kw-user", password: KafkaSecret(canary)))
            configuration.connection.debugContexts = ["security", "broker", "protocol"]
            let consumer = try KafkaConsumer(configuration: configuration, logger: capture.logger())
            try await consumer.subscribe(topics: [KafkaTesting.unique("sasl")])
            let started = ContinuousClock.now
            let error = await #expect(throws: KafkaError.self) { _ = try await KafkaTesting.collect(1, from: consumer) }
            await consumer.close()
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(error?.code == .authentication, "\(String(describing: error))")
            #expect(error?.message.contains("SASL") == true)
            #expect(error.map { !"\($0)".contains(canary) } == true)
            #expect(!capture.all.isEmpty, "debug logging reached the capture")
            #expect(!capture.contains(canary))
        }
    }

    @Test("PLAIN (which Tansu does not serve) fails within the connect timeout; the password is in no output")
    func plainCanary() async throws {
        try await TansuBroker.with(authentication: true) { broker in
            let canary = "canary-Plain-93ac0e"
            let capture = LogCapture()
            var configuration = KafkaTesting.consumerConfiguration(bootstrapServers: broker.bootstrapServers,
                                                                   group: KafkaTesting.unique("g"))
            configuration.connection.security = .init(
                securityProtocol: .saslPlaintext, sasl: .init(mechanism: .plain, username: "kw-user", password: KafkaSecret(canary)))
            configuration.connection.debugContexts = ["security", "broker", "protocol"]
            configuration.connection.connectTimeout = .seconds(3)
            let consumer = try KafkaConsumer(configuration: configuration, logger: capture.logger())
            try await consumer.subscribe(topics: [KafkaTesting.unique("sasl")])
            let started = ContinuousClock.now
            let error = await #expect(throws: KafkaError.self) { _ = try await KafkaTesting.collect(1, from: consumer) }
            await consumer.close()
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(error.map { !"\($0)".contains(canary) } == true)
            #expect(!capture.contains(canary))
        }
    }
}
