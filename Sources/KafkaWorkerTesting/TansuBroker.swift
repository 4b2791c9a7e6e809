public import Foundation
import KafkaClient

/// A private Tansu broker (an independent, Kafka-compatible broker written in Rust) on 127.0.0.1: a free port,
/// in-memory storage, a temporary working folder, stopped by its PID.
///
/// The binary comes from `KAFKA_WORKER_TEST_TANSU` (`./scripts/test` fetches Tansu and sets it). librdkafka
/// before 2.2.0 cannot talk to Tansu (see ``librdkafkaCanTalkToTansu``).
///
/// ```swift
/// try await TansuBroker.with { broker in
///     let topic = try await broker.topic("orders", partitions: 3)
///     // clients use broker.bootstrapServers
/// }
/// ```
public final class TansuBroker: Sendable {
    /// The environment variable naming the tansu binary.
    public static let binaryVariable = "KAFKA_WORKER_TEST_TANSU"
    public static var binaryPath: String? { ProcessInfo.processInfo.environment[binaryVariable] }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// Whether Tansu tests should run: the binary is there, or it must be (`CI=true`, where they fail without it).
    public static var expected: Bool { binaryPath != nil || isCI }
    /// librdkafka ≥ 2.2.0. Older releases misread the tagged fields of Tansu's ApiVersions response and never
    /// get past the handshake (librdkafka issue 4253).
    public static var librdkafkaCanTalkToTansu: Bool { KafkaLibrary.versionNumber >= 0x0202_0000 }

    /// The plaintext listener.
    public let port: Int
    /// The port Tansu names in its metadata (``port``, or a proxy's in front of it).
    public let advertisedPort: Int
    /// The temporary folder Tansu runs in (removed by ``stop()``).
    public let directory: URL
    private let binary: String
    private let server: ServerProcess

    /// `127.0.0.1:<port>`: the plaintext listener itself.
    public var bootstrapServers: [String] { ["127.0.0.1:\(port)"] }

    private init(binary: String, port: Int, advertisedPort: Int, directory: URL, server: ServerProcess) {
        self.binary = binary
        self.port = port
        self.advertisedPort = advertisedPort
        self.directory = directory
        self.server = server
    }

    /// Starts Tansu and waits until it accepts connections. `advertisedPort` (default: its own port) is what its
    /// metadata tells clients to connect to — a TLS proxy's port, for instance. With `authentication`, clients
    /// must authenticate with SASL/SCRAM (Tansu's `--authentication`; note that with in-memory storage no user
    /// can be created then: `tansu user create` cannot authenticate, so every login fails with unknown-user).
    public static func start(advertisedPort: Int? = nil, authentication: Bool = false) async throws -> TansuBroker {
        guard let binary = binaryPath else {
            throw ServerProcess.Failure(description: "\(binaryVariable) is not set: run the tests with ./scripts/test, "
                                            + "which fetches Tansu (into .build/peers) and sets it")
        }
        var lastError: (any Error)?
        // A free port can be taken between the check and Tansu's bind: try a few.
        for _ in 0..<3 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(KafkaTesting.unique("tansu"))
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let port = try LocalPort.free()
            let advertised = advertisedPort ?? port
            let server = try ServerProcess(
                name: "tansu", executable: binary,
                arguments: ["broker", "--listener-url", "tcp://127.0.0.1:\(port)",
                            "--advertised-listener-url", "tcp://127.0.0.1:\(advertised)",
                            "--storage-engine", "memory://tansu/"] + (authentication ? ["--authentication"] : []),
                directory: directory)
            do {
                try await server.waitUntilListening(on: port)
                return TansuBroker(binary: binary, port: port, advertisedPort: advertised, directory: directory,
                                   server: server)
            } catch {
                lastError = error
                await server.stop()
                try? FileManager.default.removeItem(at: directory)
            }
        }
        throw lastError!
    }

    /// Runs `body` with a broker of its own and stops the broker afterwards, also when `body` throws.
    public static func with<T: Sendable>(advertisedPort: Int? = nil, authentication: Bool = false,
                                         _ body: (TansuBroker) async throws -> T) async throws -> T {
        let broker = try await start(advertisedPort: advertisedPort, authentication: authentication)
        do {
            let result = try await body(broker)
            await broker.stop()
            return result
        } catch {
            await broker.stop()
            throw error
        }
    }

    /// Creates a topic with Tansu's own command-line client (independent of the client under test).
    public func createTopic(_ name: String, partitions: Int) async throws {
        let output = try await ExternalTool(path: binary).run(
            ["topic", "create", "--broker", "tcp://127.0.0.1:\(port)", "--partitions", String(partitions), name],
            within: .seconds(20))
        guard output.status == 0 else {
            throw ServerProcess.Failure(description: "tansu topic create \(name) exited with \(output.status): "
                                            + output.standardOutput)
        }
    }

    /// Creates a topic no other test uses and returns its name.
    public func topic(_ prefix: String = "t", partitions: Int = 1) async throws -> String {
        let name = KafkaTesting.unique(prefix)
        try await createTopic(name, partitions: partitions)
        return name
    }

    /// The end of Tansu's log.
    public func logTail(lines: Int = 20) -> String { server.logTail(lines: lines) }

    /// Stops Tansu by its PID and removes its folder. Idempotent.
    public func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
