public import Foundation

/// Certificates for TLS tests, made with `openssl` in a temporary folder: a CA, a server certificate it signed
/// for `127.0.0.1`/`localhost`, one it signed for another name, a CA nobody trusts, and a client key encrypted
/// with a password.
public struct TestCertificates: Sendable {
    public let directory: URL
    /// The CA that signed the server certificates (PEM).
    public var caPath: String { path("ca.pem") }
    /// A self-signed CA that signed nothing here (PEM).
    public var otherCAPath: String { path("other-ca.pem") }
    /// A server certificate for `127.0.0.1` and `localhost`, and its key.
    public var serverCertificatePath: String { path("server.pem") }
    public var serverKeyPath: String { path("server.key") }
    /// A server certificate signed by the CA for `wrong-name.invalid` only, and its key.
    public var wrongNameCertificatePath: String { path("wrong-name.pem") }
    public var wrongNameKeyPath: String { path("wrong-name.key") }
    /// A client certificate signed by the CA, and its key encrypted with ``clientKeyPassword``.
    public var clientCertificatePath: String { path("client.pem") }
    public var clientKeyPath: String { path("client-encrypted.key") }
    public let clientKeyPassword: String

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Makes the certificates (EC P-256, valid for two days).
    public static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(KafkaTesting.unique("certs"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory, clientKeyPassword: UUID().uuidString)
        let openssl = try ExternalTool("openssl")
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func run(_ arguments: [String]) async throws {
            let output = try await openssl.run(arguments, within: .seconds(30))
            guard output.status == 0 else {
                throw ServerProcess.Failure(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed")
            }
        }
        for (name, subject) in [("ca", "kafka-worker test CA"), ("other-ca", "kafka-worker untrusted CA")] {
            try await run(["req", "-x509"] + key + ["-keyout", certificates.path("\(name).key"),
                          "-out", certificates.path("\(name).pem"), "-days", "2", "-subj", "/CN=\(subject)"])
        }
        let servers = [("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
                       ("wrong-name", "wrong-name.invalid", "subjectAltName=DNS:wrong-name.invalid\nextendedKeyUsage=serverAuth\n"),
                       ("client", "kafka-worker client", "extendedKeyUsage=clientAuth\n")]
        for (name, commonName, extensions) in servers {
            try Data(extensions.utf8).write(to: URL(fileURLWithPath: certificates.path("\(name).ext")))
            try await run(["req"] + key + ["-keyout", certificates.path("\(name).key"),
                          "-out", certificates.path("\(name).csr"), "-subj", "/CN=\(commonName)"])
            try await run(["x509", "-req", "-in", certificates.path("\(name).csr"), "-CA", certificates.caPath,
                           "-CAkey", certificates.path("ca.key"), "-CAcreateserial", "-days", "2",
                           "-out", certificates.path("\(name).pem"), "-extfile", certificates.path("\(name).ext")])
        }
        // The client key, encrypted (PKCS#8, AES-256) with its password.
        try await run(["pkcs8", "-topk8", "-in", certificates.path("client.key"), "-out", certificates.clientKeyPath,
                       "-v2", "aes-256-cbc", "-passout", "pass:\(certificates.clientKeyPassword)"])
        return certificates
    }

    /// Removes the folder.
    public func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// A TLS-terminating proxy (socat with OpenSSL) on 127.0.0.1 in front of a plaintext TCP server.
public final class TLSProxy: Sendable {
    public let port: Int
    private let server: ServerProcess

    /// Starts socat on `port` (TLS with `certificate`/`key`, no client certificate asked) forwarding to
    /// 127.0.0.1:`target`, and waits until it listens.
    public static func start(port: Int, target: Int, certificate: String, key: String,
                             directory: URL) async throws -> TLSProxy {
        let socat = try ExternalTool("socat")
        let server = try ServerProcess(
            name: "socat-\(port)", executable: socat.path,
            arguments: ["OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(certificate),key=\(key),verify=0",
                        "TCP:127.0.0.1:\(target)"],
            directory: directory)
        do {
            try await server.waitUntilListening(on: port)
        } catch {
            await server.stop()
            throw error
        }
        return TLSProxy(port: port, server: server)
    }

    private init(port: Int, server: ServerProcess) {
        self.port = port
        self.server = server
    }

    /// Stops socat by its PID (connections already open end with their clients).
    public func stop() async { await server.stop() }
}
