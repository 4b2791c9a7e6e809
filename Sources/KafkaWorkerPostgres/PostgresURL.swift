public import KafkaClient
import Foundation
public import PostgresNIO

/// Parses `postgres://user:password@host:port/database?sslmode=disable|prefer|require` (also `postgresql://`)
/// into a postgres-nio client configuration. Errors name the part that is wrong, never the URL or password.
public enum PostgresURL {
    public static func configuration(_ text: String, key: String = "postgres-url") throws(KafkaConfigurationError)
        -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw KafkaConfigurationError(key: key, message: "expected postgres://user:password@host:port/database")
        }
        guard let host = url.host, !host.isEmpty else {
            throw KafkaConfigurationError(key: key, message: "the URL names no host")
        }
        guard let user = url.user, !user.isEmpty else {
            throw KafkaConfigurationError(key: key, message: "the URL names no user")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let sslmode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default:
            throw KafkaConfigurationError(key: "\(key) sslmode",
                                          message: "\"\(sslmode)\" is not accepted: use disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: url.password.map { $0.removingPercentEncoding ?? $0 }, database: database.isEmpty ? nil : database,
            tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
