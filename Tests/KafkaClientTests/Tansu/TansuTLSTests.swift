import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

/// TLS for real: Tansu behind a TLS-terminating proxy (socat, OpenSSL) that Tansu advertises as its listener,
/// with a CA and server certificates made by openssl for each test.
@Suite("Tansu over TLS", .serialized, .timeLimit(.minutes(3)), .enabled(if: TansuSupport.runs, TansuSupport.reason))
struct TansuTLSTests {
    @Test("with the right CA, producer and consumer round-trip over TLS")
    func goodCA() async throws {
        try await withTLSTansu { broker, proxy, certificates in
            let topic = try await broker.topic("tls")
            let servers = ["127.0.0.1:\(proxy.port)"]
            let security = KafkaSecurityConfiguration(securityProtocol: .ssl, tls: .init(caLocation: certificates.caPath))
            var producerConfiguration = KafkaTesting.producerConfiguration(bootstrapServers: servers)
            producerConfiguration.connection.security = security
            let producer = try KafkaProducer(configuration: producerConfiguration, logger: KafkaTesting.logger)
            let reports = try await producer.sendAll((0..<20).map { KafkaProducerRecord(topic: topic, key: "k\($0)", value: "v\($0)") })
                .map { try $0.get() }
            await producer.close()
            #expect(reports.map(\.offset) == Array(0..<20))

            let consumer = try await TansuSupport.consumer(broker, topic: topic) {
                $0.connection.bootstrapServers = servers
                $0.connection.security = security
            }
            let records = try await KafkaTesting.collect(20, from: consumer)
            await consumer.close()
            #expect(records.map(\.valueString) == (0..<20).map { "v\($0)" })
        }
    }

    @Test("a CA that did not sign the broker's certificate fails the start within 3 s, saying so")
    func wrongCA() async throws {
        try await withTLSTansu { broker, proxy, certificates in
            let error = try await startFailure(broker, servers: ["127.0.0.1:\(proxy.port)"],
                                               tls: .init(caLocation: certificates.otherCAPath))
            #expect(error.code == .ssl)
            #expect(error.message.contains("did not verify") && error.message.contains("certificate verify failed"),
                    "\(error.message)")
        }
    }

    @Test("a certificate for another host name fails the start within 3 s, saying so")
    func wrongHostName() async throws {
        try await withTLSTansu { broker, _, certificates in
            try await withWrongNameProxy(broker, certificates) { wrongName in
                let error = try await startFailure(broker, servers: ["127.0.0.1:\(wrongName.port)"],
                                                   tls: .init(caLocation: certificates.caPath))
                #expect(error.code == .ssl)
                #expect(error.message.contains("did not verify"), "\(error.message)")
            }
        }
    }

    @Test("verification is off only with the explicit bypass, never through raw properties; then the wrong name connects")
    func verificationOffNeedsTheExplicitSetting() async throws {
        try await withTLSTansu { broker, proxy, certificates in
            try await withWrongNameProxy(broker, certificates) { wrongName in
            let servers = ["127.0.0.1:\(wrongName.port)"]
            var tls = KafkaSecurityConfiguration.TLS(caLocation: certificates.otherCAPath)
            tls.verifyCertificates = false
            var configuration = KafkaTesting.consumerConfiguration(bootstrapServers: servers, group: KafkaTesting.unique("g"))
            configuration.connection.security = .init(securityProtocol: .ssl, tls: tls)
            #expect(throws: KafkaConfigurationError.self) { try configuration.validate() }
            for key in ["enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm"] {
                var raw = KafkaTesting.consumerConfiguration(bootstrapServers: servers, group: KafkaTesting.unique("g"))
                raw.connection.security = .init(securityProtocol: .ssl, tls: .init(caLocation: certificates.otherCAPath))
                raw.connection.additionalProperties[key] = key.hasPrefix("enable") ? "false" : "none"
                #expect(throws: KafkaConfigurationError.self, "\(key)") { try raw.validate() }
            }

            let topic = try await broker.topic("tls-off")
            try await send([KafkaProducerRecord(topic: topic, key: "k", value: "v")], proxy, certificates)
            tls.allowInsecureCertificateVerificationBypass = true
            // The wrong-name proxy is only the bootstrap: Tansu then advertises the proxy with the right certificate.
            let consumer = try await TansuSupport.consumer(broker, topic: topic) {
                $0.connection.bootstrapServers = servers
                $0.connection.security = .init(securityProtocol: .ssl, tls: tls)
            }
            let records = try await KafkaTesting.collect(1, from: consumer)
            await consumer.close()
            #expect(records.map(\.valueString) == ["v"])
            }
        }
    }

    @Test("a wrong client key password is refused without showing it; the right one connects")
    func keyPasswordCanary() async throws {
        try await withTLSTansu { broker, proxy, certificates in
            let canary = "canary-KeyPass-7e1d9"
            let capture = LogCapture()
            var tls = KafkaSecurityConfiguration.TLS(caLocation: certificates.caPath,
                                                     certificateLocation: certificates.clientCertificatePath,
                                                     keyLocation: certificates.clientKeyPath, keyPassword: KafkaSecret(canary))
            var configuration = KafkaTesting.consumerConfiguration(bootstrapServers: ["127.0.0.1:\(proxy.port)"],
                                                                   group: KafkaTesting.unique("g"))
            configuration.connection.security = .init(securityProtocol: .ssl, tls: tls)
            configuration.connection.debugContexts = ["security", "broker"]
            let error = #expect(throws: KafkaConfigurationError.self) {
                _ = try KafkaConsumer(configuration: configuration, logger: capture.logger())
            }
            #expect(error.map { !"\($0)".contains(canary) && !String(reflecting: $0).contains(canary) } == true)
            #expect(!capture.contains(canary))

            let topic = try await broker.topic("tls-key")
            try await send([KafkaProducerRecord(topic: topic, key: "k", value: "v")], proxy, certificates)
            tls.keyPassword = KafkaSecret(certificates.clientKeyPassword)
            configuration.connection.security = .init(securityProtocol: .ssl, tls: tls)
            let consumer = try KafkaConsumer(configuration: configuration, logger: capture.logger())
            try await consumer.subscribe(topics: [topic])
            let records = try await KafkaTesting.collect(1, from: consumer)
            await consumer.close()
            #expect(records.count == 1)
            #expect(!capture.contains(certificates.clientKeyPassword), "the right password is not logged either")
        }
    }

    /// Sends over TLS through `proxy` (Tansu advertises the proxy: its plaintext port serves bootstrap only).
    private func send(_ records: [KafkaProducerRecord], _ proxy: TLSProxy, _ certificates: TestCertificates) async throws {
        var configuration = KafkaTesting.producerConfiguration(bootstrapServers: ["127.0.0.1:\(proxy.port)"])
        configuration.connection.security = .init(securityProtocol: .ssl, tls: .init(caLocation: certificates.caPath))
        let producer = try KafkaProducer(configuration: configuration, logger: KafkaTesting.logger)
        let results = await producer.sendAll(records)
        await producer.close()
        for result in results { _ = try result.get() }
    }

    /// A consumer start that must fail within 3 s (its connectTimeout is 5 s); returns the error.
    private func startFailure(_ broker: TansuBroker, servers: [String],
                              tls: KafkaSecurityConfiguration.TLS) async throws -> KafkaError {
        let consumer = try await TansuSupport.consumer(broker, topic: KafkaTesting.unique("never")) {
            $0.connection.bootstrapServers = servers
            $0.connection.security = .init(securityProtocol: .ssl, tls: tls)
        }
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaError.self) { _ = try await KafkaTesting.collect(1, from: consumer) }
        await consumer.close()
        #expect(ContinuousClock.now - started < .seconds(3), "failed after \(ContinuousClock.now - started)")
        return try #require(error)
    }

    /// A second proxy in front of the same Tansu, with a certificate the CA signed for another host name.
    private func withWrongNameProxy(_ broker: TansuBroker, _ certificates: TestCertificates,
                                    _ body: (TLSProxy) async throws -> Void) async throws {
        let proxy = try await TLSProxy.start(port: try LocalPort.free(), target: broker.port,
                                             certificate: certificates.wrongNameCertificatePath,
                                             key: certificates.wrongNameKeyPath, directory: broker.directory)
        do {
            try await body(proxy)
            await proxy.stop()
        } catch {
            await proxy.stop()
            throw error
        }
    }

    private func withTLSTansu(_ body: (TansuBroker, TLSProxy, TestCertificates) async throws -> Void) async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let proxyPort = try LocalPort.free()
        try await TansuBroker.with(advertisedPort: proxyPort) { broker in
            let proxy = try await TLSProxy.start(port: proxyPort, target: broker.port,
                                                 certificate: certificates.serverCertificatePath,
                                                 key: certificates.serverKeyPath, directory: broker.directory)
            do {
                try await body(broker, proxy, certificates)
                await proxy.stop()
            } catch {
                await proxy.stop()
                throw error
            }
        }
    }
}
