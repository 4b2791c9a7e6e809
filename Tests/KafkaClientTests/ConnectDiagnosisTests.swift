@testable import KafkaClient
import Testing

/// The handshake failures librdkafka reports as text, explained (no broker needed: the texts are librdkafka's).
@Suite("Connect diagnosis")
struct ConnectDiagnosisTests {
    static let underflow = KafkaError(
        code: .transport, operation: "client",
        message: "127.0.0.1:19092/bootstrap: ApiVersionRequest failed: Local: Read underflow: probably due to broker "
            + "version < 0.10 (see api.version.request configuration) (after 8ms in state APIVERSION_QUERY)")

    @Test("an unreadable ApiVersion response on librdkafka < 2.2.0 names the broker, the cause and the fix")
    func apiVersionOnOldLibrary() throws {
        let error = try #require(ConnectDiagnosis.diagnose(Self.underflow.message, libraryVersion: 0x0200_02FF, libraryName: "2.0.2"))
        #expect(error.code == .unsupportedVersion && !error.isRetriable)
        #expect(error.message.hasPrefix("the broker at 127.0.0.1:19092/bootstrap answered the ApiVersion handshake"))
        #expect(error.message.contains("librdkafka 2.0.2 misreads the tagged fields"))
        #expect(error.message.contains("run with librdkafka ≥ 2.2.0"))
    }

    @Test("a log line's thread prefix is not taken for the broker")
    func logLine() throws {
        let line = "[thrd:127.0.0.1:19092/bootstrap]: " + Self.underflow.message
        let error = try #require(ConnectDiagnosis.diagnose(line, libraryVersion: 0x0200_02FF, libraryName: "2.0.2"))
        #expect(error.message.hasPrefix("the broker at 127.0.0.1:19092/bootstrap answered"))
    }

    @Test("on librdkafka ≥ 2.2.0 the same failure does not blame the library")
    func apiVersionOnNewLibrary() throws {
        let error = try #require(ConnectDiagnosis.diagnose(Self.underflow.message, libraryVersion: 0x0210_02FF, libraryName: "2.16.2"))
        #expect(!error.message.contains("≥ 2.2.0"))
        #expect(error.message.contains("check that the address is a Kafka broker"))
    }

    @Test("certificate and SASL failures are explained; ordinary transport errors are left alone")
    func others() {
        let tls = KafkaError(code: .ssl, operation: "client", message: "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: "
                                 + "error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified")
        #expect(ConnectDiagnosis.diagnose(tls.message, libraryVersion: 0x0210_02FF, libraryName: "2.16.2")?.message
            .hasPrefix("TLS: the certificate of the broker at ssl://127.0.0.1:1/bootstrap did not verify") == true)
        let sasl = KafkaError(code: .authentication, operation: "client", message: "sasl_plaintext://127.0.0.1:1/bootstrap: "
                                  + "SASL authentication error: SASL SCRAM authentication failed: broker responded with unknown-user")
        #expect(ConnectDiagnosis.diagnose(sasl.message, libraryVersion: 0x0210_02FF, libraryName: "2.16.2")?.code == .authentication)
        let down = KafkaError(code: .transport, operation: "client", message: "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed")
        #expect(ConnectDiagnosis.diagnose(down.message, libraryVersion: 0x0210_02FF, libraryName: "2.16.2") == nil)
        let handshake = KafkaError(code: .ssl, operation: "client", message: "x: SSL handshake failed: Disconnected")
        #expect(ConnectDiagnosis.diagnose(handshake.message, libraryVersion: 0x0210_02FF, libraryName: "2.16.2") == nil)
    }

    @Test("a connection lost during the SASL exchange is a transient failure, not refused credentials")
    func saslTransport() {
        for local in ["Local: Broker transport failure", "Local: Timed out"] {
            let text = "sasl_ssl://10.0.0.1:9093/1: SASL authentication error: SaslAuthenticateRequest failed: \(local)"
            #expect(ConnectDiagnosis.diagnose(text, libraryVersion: 0x0210_02FF, libraryName: "2.16.2") == nil, "\(local)")
        }
    }
}

