import Foundation
import KafkaWorkerPostgres
import KafkaWorkerRedis
import KafkaWorkerTesting
import Logging
import PostgresNIO

/// The PostgreSQL and Redis servers `./scripts/test` starts (addresses in the environment). Without them a test
/// is skipped locally; in CI (`CI=true`) it runs and fails, naming what is missing.
enum TestServers {
    static let environment = ProcessInfo.processInfo.environment
    static let isCI = environment["CI"] == "true"
    static let postgresURL = environment["KAFKA_WORKER_TEST_POSTGRES_URL"]
    static let postgresControl = environment["KAFKA_WORKER_TEST_POSTGRES_CTL"]
    static let redisURL = environment["KAFKA_WORKER_TEST_REDIS_URL"]

    /// Run the test: the server is there, or it must be (CI).
    static var postgresExpected: Bool { postgresURL != nil || isCI }
    static var redisExpected: Bool { redisURL != nil || isCI }

    struct Missing: Error, CustomStringConvertible {
        var variable: String
        var description: String { "\(variable) is not set: run the tests with ./scripts/test, which starts the servers" }
    }

    /// Runs `body` with a running PostgresClient for the tests' server.
    static func withPostgres<T: Sendable>(maxConnections: Int = 20,
                                          _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws -> T {
        guard let url = postgresURL else { throw Missing(variable: "KAFKA_WORKER_TEST_POSTGRES_URL") }
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = maxConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test.postgres"))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func redis() throws -> RedisClient {
        guard let url = redisURL else { throw Missing(variable: "KAFKA_WORKER_TEST_REDIS_URL") }
        return try RedisClient(configuration: .init(url: url))
    }

    /// Restarts the tests' PostgreSQL (fast shutdown) and waits until it accepts connections.
    static func restartPostgres() async throws {
        guard let control = postgresControl else { throw Missing(variable: "KAFKA_WORKER_TEST_POSTGRES_CTL") }
        let output = try await ExternalTool(path: control).run(["restart"], within: .seconds(60))
        guard output.status == 0 else { throw Missing(variable: "a working \(control) (exit \(output.status))") }
    }

    /// A table name no other test uses.
    static func table(_ prefix: String) -> String {
        KafkaTesting.unique(prefix).replacingOccurrences(of: "-", with: "_").lowercased()
    }
}
