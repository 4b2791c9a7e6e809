/// How the client authenticates and encrypts (librdkafka `security.protocol`, `ssl.*`, `sasl.*`).
public struct KafkaSecurityConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// `security.protocol`.
    public struct SecurityProtocol: Sendable, Hashable {
        public let rawValue: String
        public static let plaintext = SecurityProtocol(rawValue: "plaintext")
        public static let ssl = SecurityProtocol(rawValue: "ssl")
        public static let saslPlaintext = SecurityProtocol(rawValue: "sasl_plaintext")
        public static let saslSSL = SecurityProtocol(rawValue: "sasl_ssl")
    }

    /// `sasl.mechanisms`.
    public struct SASLMechanism: Sendable, Hashable {
        public let rawValue: String
        public static let plain = SASLMechanism(rawValue: "PLAIN")
        public static let scramSHA256 = SASLMechanism(rawValue: "SCRAM-SHA-256")
        public static let scramSHA512 = SASLMechanism(rawValue: "SCRAM-SHA-512")
    }

    /// SASL user name and password.
    public struct SASL: Sendable, Hashable {
        public var mechanism: SASLMechanism
        /// `sasl.username`.
        public var username: String
        /// `sasl.password`; never logged.
        public var password: KafkaSecret

        public init(mechanism: SASLMechanism, username: String, password: KafkaSecret) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// TLS files and verification.
    public struct TLS: Sendable, Hashable {
        /// `ssl.ca.location`: CA bundle to verify the brokers with; `nil` uses the system store.
        public var caLocation: String?
        /// `ssl.certificate.location`: client certificate for mutual TLS.
        public var certificateLocation: String?
        /// `ssl.key.location`: client private key for mutual TLS.
        public var keyLocation: String?
        /// `ssl.key.password`; never logged.
        public var keyPassword: KafkaSecret?
        /// `enable.ssl.certificate.verification` (default `true`). Turning it off requires
        /// `allowInsecureCertificateVerificationBypass`, so it never happens by accident.
        public var verifyCertificates: Bool = true
        /// Must be `true` for `verifyCertificates = false` to be accepted.
        public var allowInsecureCertificateVerificationBypass: Bool = false

        public init(caLocation: String? = nil, certificateLocation: String? = nil, keyLocation: String? = nil,
                    keyPassword: KafkaSecret? = nil) {
            self.caLocation = caLocation
            self.certificateLocation = certificateLocation
            self.keyLocation = keyLocation
            self.keyPassword = keyPassword
        }
    }

    public var securityProtocol: SecurityProtocol = .plaintext
    public var sasl: SASL?
    public var tls: TLS?

    public init(securityProtocol: SecurityProtocol = .plaintext, sasl: SASL? = nil, tls: TLS? = nil) {
        self.securityProtocol = securityProtocol
        self.sasl = sasl
        self.tls = tls
    }

    public static let plaintext = KafkaSecurityConfiguration()

    public var description: String {
        var parts = ["protocol: \(securityProtocol.rawValue)"]
        if let sasl { parts.append("sasl: \(sasl.mechanism.rawValue) user \(sasl.username) password [REDACTED]") }
        if let tls { parts.append("tls: verify \(tls.verifyCertificates)") }
        return "KafkaSecurityConfiguration(\(parts.joined(separator: ", ")))"
    }

    func properties() throws(KafkaConfigurationError) -> [String: String] {
        var props = ["security.protocol": securityProtocol.rawValue]
        let usesSASL = securityProtocol == .saslPlaintext || securityProtocol == .saslSSL
        let usesTLS = securityProtocol == .ssl || securityProtocol == .saslSSL
        if usesSASL {
            guard let sasl else {
                throw KafkaConfigurationError(
                    key: "sasl.mechanisms",
                    message: "security.protocol \(securityProtocol.rawValue) needs SASL credentials (security.sasl)")
            }
            props["sasl.mechanisms"] = sasl.mechanism.rawValue
            props["sasl.username"] = sasl.username
            props["sasl.password"] = sasl.password.value
        } else if sasl != nil {
            throw KafkaConfigurationError(
                key: "security.protocol",
                message: "SASL credentials are set but security.protocol is \(securityProtocol.rawValue); accepted: sasl_plaintext, sasl_ssl")
        }
        if let tls {
            guard usesTLS else {
                throw KafkaConfigurationError(
                    key: "security.protocol",
                    message: "TLS settings are set but security.protocol is \(securityProtocol.rawValue); accepted: ssl, sasl_ssl")
            }
            if !tls.verifyCertificates && !tls.allowInsecureCertificateVerificationBypass {
                throw KafkaConfigurationError(
                    key: "enable.ssl.certificate.verification",
                    message: "turning certificate verification off needs allowInsecureCertificateVerificationBypass = true")
            }
            props["enable.ssl.certificate.verification"] = tls.verifyCertificates ? "true" : "false"
            props["ssl.ca.location"] = tls.caLocation
            props["ssl.certificate.location"] = tls.certificateLocation
            props["ssl.key.location"] = tls.keyLocation
            props["ssl.key.password"] = tls.keyPassword?.value
        }
        return props
    }
}
