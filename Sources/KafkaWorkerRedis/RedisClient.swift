public import KafkaClient
import NIOCore
import NIOPosix

/// A small Redis client (RESP2 over SwiftNIO): the commands a lock needs, pipelining, AUTH, SELECT, timeouts.
///
/// It connects on first use and again after a failure. A command that gets no reply within `commandTimeout`
/// closes the connection (its replies would be out of step) and fails with ``RedisError/timeout``. Errors
/// never contain the password.
public actor RedisClient {
    public struct Configuration: Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: KafkaSecret?
        /// `SELECT`ed after connecting (default 0).
        public var database = 0
        /// Default 2 s. Range 10 ms ... 60 s.
        public var connectTimeout: Duration = .seconds(2)
        /// Default 2 s. Range 10 ms ... 60 s.
        public var commandTimeout: Duration = .seconds(2)

        public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: KafkaSecret? = nil) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
        }

        /// Parses `redis://[user:password@]host[:port][/database]`.
        public init(url text: String) throws(KafkaConfigurationError) {
            guard let url = URLParts(text), url.scheme == "redis", !url.host.isEmpty else {
                throw KafkaConfigurationError(key: "redis-url", message: "expected redis://[user:password@]host[:port][/database]")
            }
            self.init(host: url.host, port: url.port ?? 6379, username: url.user,
                      password: url.password.map { KafkaSecret($0) })
            if let path = url.path, !path.isEmpty {
                guard let database = Int(path), database >= 0 else {
                    throw KafkaConfigurationError(key: "redis-url", message: "the database after / must be a number")
                }
                self.database = database
            }
        }

        public var description: String { "redis://\(host):\(port)/\(database)\(password == nil ? "" : " (with password)")" }

        func validate() throws(KafkaConfigurationError) {
            guard (1...65_535).contains(port) else { throw KafkaConfigurationError(key: "redis.port", message: "\(port) is outside 1...65535") }
            for (key, value) in [("redis.connectTimeout", connectTimeout), ("redis.commandTimeout", commandTimeout)]
            where !(Duration.milliseconds(10) ... .seconds(60)).contains(value) {
                throw KafkaConfigurationError(key: key, message: "\(value) is outside 10 ms ... 60 s")
            }
        }
    }

    public nonisolated let configuration: Configuration
    private var channel: (any Channel)?

    public init(configuration: Configuration) throws(KafkaConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Sends one command; a Redis error reply is thrown as ``RedisError/reply(_:)``.
    @discardableResult
    public func send(_ command: String...) async throws(RedisError) -> RESPValue {
        try await pipeline([command])[0]
    }

    /// Sends commands in one write and returns their replies in order. Error replies are returned, not thrown.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        let channel = try await connected()
        let replies = try await exchange(commands, on: channel)
        if commands.count == 1, case .error(let message) = replies[0] { throw .reply(message) }
        return replies
    }

    /// Closes the connection (a later command opens a new one).
    public func close() async {
        let old = channel
        channel = nil
        try? await old?.close()
    }

    private func exchange(_ commands: [[String]], on channel: any Channel) async throws(RedisError) -> [RESPValue] {
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let timeout = configuration.commandTimeout
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(timeout.wholeMilliseconds)) {
            promise.fail(RedisError.timeout(timeout))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush(RESPCommandHandler.Request(commands: commands, promise: promise), promise: nil)
        do {
            return try await promise.futureResult.get()
        } catch let error as RedisError {
            dropIfCurrent(channel)
            throw error
        } catch {
            dropIfCurrent(channel)
            throw .unavailable("\(error)")
        }
    }

    private func dropIfCurrent(_ failed: any Channel) {
        if let current = channel, current === failed { channel = nil }
    }

    private func connected() async throws(RedisError) -> any Channel {
        if let channel, channel.isActive { return channel }
        channel = nil
        let opened: any Channel
        do {
            opened = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(configuration.connectTimeout.wholeMilliseconds))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                        try channel.pipeline.syncOperations.addHandler(RESPCommandHandler())
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw .unavailable("cannot connect to \(configuration.host):\(configuration.port) (\(type(of: error)): \(Self.reason(error)))")
        }
        var setup: [[String]] = []
        if let password = configuration.password {
            setup.append(["AUTH"] + (configuration.username.map { [$0] } ?? []) + [password.value])
        }
        if configuration.database != 0 { setup.append(["SELECT", "\(configuration.database)"]) }
        if !setup.isEmpty {
            let replies = try await exchange(setup, on: opened)
            if let failure = replies.first(where: { if case .error = $0 { true } else { false } }), case .error(let message) = failure {
                try? await opened.close()
                // The server's message names the problem (WRONGPASS, NOAUTH…), never the password.
                throw .unavailable("Redis refused the connection set-up: \(message)")
            }
        }
        // Another caller may have connected meanwhile (the actor lets others in while this one awaited).
        if let current = channel, current.isActive {
            try? await opened.close()
            return current
        }
        channel = opened
        return opened
    }

    private static func reason(_ error: any Error) -> String {
        "\(error)".replacingOccurrences(of: "\n", with: " ")
    }
}

/// What went wrong talking to Redis.
public enum RedisError: Error, CustomStringConvertible, Equatable {
    /// Cannot connect, or the connection broke.
    case unavailable(String)
    /// No reply within the command timeout; the connection was closed.
    case timeout(Duration)
    /// Redis answered with an error reply.
    case reply(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "Redis unavailable: \(reason)"
        case .timeout(let timeout): "Redis did not answer within \(timeout)"
        case .reply(let message): "Redis error reply: \(message)"
        }
    }
}
