/// Where the cluster is and how to reach it; shared by consumers, producers and admin clients.
public struct KafkaConnectionConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `bootstrap.servers`: `host:port` entries. Required, at least one.
    public var bootstrapServers: [String]
    /// `client.id` (default `kafka-worker`), shown in broker logs and quotas.
    public var clientID: String = "kafka-worker"
    /// TLS and SASL settings (default plaintext).
    public var security: KafkaSecurityConfiguration = .plaintext
    /// How long start-up waits for the first broker connection before failing with a clear error
    /// (default 10 s). The client itself keeps reconnecting afterwards.
    public var connectTimeout: Duration = .seconds(10)
    /// `debug`: librdkafka debug contexts (e.g. `["cgrp", "fetch"]`), routed to the logger at debug level.
    public var debugContexts: [String] = []
    /// Raw librdkafka properties, applied last. For settings the typed configuration does not cover.
    /// Values of secret keys (passwords, keys) are redacted wherever they would be shown.
    public var additionalProperties: [String: String] = [:]

    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    public var description: String {
        let extra = additionalProperties.keys.sorted().map { key in
            "\(key)=\(KafkaProperties.isSecret(key) ? "[REDACTED]" : additionalProperties[key]!)"
        }
        return "bootstrap.servers=\(bootstrapServers.joined(separator: ",")) client.id=\(clientID) \(security)"
            + (extra.isEmpty ? "" : " " + extra.joined(separator: " "))
    }

    func apply(to props: inout KafkaProperties) throws(KafkaConfigurationError) {
        guard !bootstrapServers.isEmpty else {
            throw KafkaConfigurationError(key: "bootstrap.servers", message: "at least one host:port is required")
        }
        for server in bootstrapServers {
            try Self.validate(server: server)
        }
        props["bootstrap.servers"] = bootstrapServers.joined(separator: ",")
        guard !clientID.isEmpty else {
            throw KafkaConfigurationError(key: "client.id", message: "must not be empty")
        }
        props["client.id"] = clientID
        try KafkaProperties.check("connectTimeout", connectTimeout, in: 1...3_600_000)
        for (key, value) in try security.properties() { props[key] = value }
        if !debugContexts.isEmpty { props["debug"] = debugContexts.joined(separator: ",") }
    }

    /// Every secret value in this configuration, so other modules can scrub text of them.
    package var secretValues: [String] {
        var secrets = additionalProperties.compactMap { KafkaProperties.isSecret($0.key) ? $0.value : nil }
        if let password = security.sasl?.password.value { secrets.append(password) }
        if let password = security.tls?.keyPassword?.value { secrets.append(password) }
        return secrets.filter { !$0.isEmpty }
    }

    /// Raw properties, after the typed ones. A key that `reserved` names (a typed setting, or one the framework's
    /// guarantees rest on) is refused, naming the setting to use instead.
    func applyAdditional(to props: inout KafkaProperties, reserved: [String: String]) throws(KafkaConfigurationError) {
        for (key, value) in additionalProperties.sorted(by: { $0.key < $1.key }) {
            if let instead = reserved[key] ?? verificationBypass(key) ?? securityOverride(key) {
                throw KafkaConfigurationError(
                    key: "additionalProperties[\"\(key)\"]", message: "is reserved: \(instead)")
            }
            props[key] = value
        }
    }

    /// Raw properties that turn TLS verification off are refused unless the typed bypass is explicitly allowed.
    private func verificationBypass(_ key: String) -> String? {
        guard ["enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm"].contains(key),
              security.tls?.allowInsecureCertificateVerificationBypass != true
        else { return nil }
        return "it can turn TLS verification off; use security.tls.verifyCertificates, which needs "
            + "allowInsecureCertificateVerificationBypass = true"
    }

    /// Raw properties that would change the protocol or the SASL mechanism the typed `security` settings chose are
    /// refused: `security.protocol = plaintext` would otherwise turn TLS off, and send a SASL password in clear.
    private func securityOverride(_ key: String) -> String? {
        guard ["security.protocol", "sasl.mechanism", "sasl.mechanisms"].contains(key) else { return nil }
        return "it would override the typed security settings (TLS and SASL could be turned off); use security"
    }

    private static func validate(server: String) throws(KafkaConfigurationError) {
        var entry = Substring(server)
        if let scheme = entry.firstRange(of: "://") { entry = entry[scheme.upperBound...] }
        guard let colon = entry.lastIndex(of: ":"), colon != entry.startIndex,
              let port = Int(entry[entry.index(after: colon)...]), (1...65_535).contains(port)
        else {
            throw KafkaConfigurationError(
                key: "bootstrap.servers",
                message: "\"\(server)\" is not host:port; accepted: host:port with a port in 1...65535")
        }
    }
}
