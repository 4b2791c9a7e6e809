/// Connection errors that retrying will not fix, explained.
///
/// librdkafka reports a failed handshake (ApiVersion, TLS, SASL) in a log line (and, for consumers, an error
/// that waits in the consumer queue until it is polled) and keeps reconnecting. At start-up these failures end
/// the wait for the cluster at once, with a message that says what to change; after start-up they are logged
/// and the client keeps reconnecting, as before.
enum ConnectDiagnosis {
    /// The first librdkafka release that reads the tagged fields (KIP-482) of a response correctly.
    /// Before it, a tag's size was read as if it counted one byte more (librdkafka issue 4253, fixed by 4278).
    static let taggedFieldsFixedIn: Int32 = 0x0202_0000

    /// A clearer, non-retriable error for librdkafka's `text` (a log line or an error, already scrubbed of
    /// secrets), or nil when it is not one of the handshake failures this knows.
    static func diagnose(_ text: String, libraryVersion: Int32, libraryName: String) -> KafkaError? {
        // Log lines start with "[thrd:NAME]: "; then comes "BROKER: what happened".
        var text = Substring(text)
        if text.hasPrefix("[thrd:"), let end = text.firstRange(of: "]: ") { text = text[end.upperBound...] }
        let broker = text.firstRange(of: ": ").map { String(text[..<$0.lowerBound]) } ?? "the broker"
        let raw = String(text)
        if text.contains("ApiVersionRequest failed") && text.contains("Read underflow") {
            let cause = libraryVersion < taggedFieldsFixedIn
                ? "librdkafka \(libraryName) misreads the tagged fields (KIP-482) of ApiVersions v3 responses, "
                    + "which brokers such as Tansu send (fixed in librdkafka 2.2.0); run with librdkafka ≥ 2.2.0"
                : "librdkafka \(libraryName) could not parse it; check that the address is a Kafka broker"
            return KafkaError(
                code: .unsupportedVersion, operation: "connect",
                message: "the broker at \(broker) answered the ApiVersion handshake with a response this client "
                    + "cannot read: \(cause) (librdkafka: \(raw))")
        }
        if text.contains("SSL handshake failed") && text.contains("certificate verify failed") {
            return KafkaError(
                code: .ssl, operation: "connect",
                message: "TLS: the certificate of the broker at \(broker) did not verify: it is not signed by a CA "
                    + "in security.tls.caLocation, or its names do not include the host in bootstrap.servers "
                    + "(librdkafka: \(raw))")
        }
        // A connection lost or timed out during the SASL exchange ("SaslAuthenticateRequest failed: Local: Broker
        // transport failure", "Local: Timed out") is a broker restarting or a network blip: retrying fixes it.
        if text.contains("SASL authentication error") && text.contains("failed: Local:") { return nil }
        if text.contains("SASL authentication error") || text.contains("Unsupported SASL mechanism") {
            return KafkaError(
                code: .authentication, operation: "connect",
                message: "SASL: the broker at \(broker) refused the credentials or the mechanism; check "
                    + "security.sasl (librdkafka: \(raw))")
        }
        return nil
    }
}
