public import KafkaClient
public import KafkaWorker

/// The test settings of ``KafkaTesting`` for any cluster by address (a ``TansuBroker``, a TLS proxy).
extension KafkaTesting {
    /// Consumer settings with short group timing (see ``consumerConfiguration(_:group:)``).
    public static func consumerConfiguration(bootstrapServers: [String], group: String,
                                             groupProtocol: KafkaConsumerConfiguration.GroupProtocol = .classic)
        -> KafkaConsumerConfiguration
    {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: bootstrapServers, groupID: group)
        configuration.groupProtocol = groupProtocol
        if groupProtocol == .classic {
            configuration.session.timeout = .seconds(6)
            configuration.session.heartbeatInterval = .seconds(1)
        }
        configuration.fetch.maxWait = .milliseconds(100)
        configuration.commit.interval = .seconds(1)
        configuration.connection.connectTimeout = .seconds(5)
        configuration.rebalanceHookTimeout = .seconds(15)
        return configuration
    }

    /// Worker settings with short group timing, summaries and retries (see ``workerConfiguration(_:group:topics:)``).
    public static func workerConfiguration(bootstrapServers: [String], group: String? = nil, topics: [String],
                                           groupProtocol: KafkaConsumerConfiguration.GroupProtocol = .classic)
        -> WorkerConfiguration
    {
        var configuration = WorkerConfiguration(bootstrapServers: bootstrapServers, groupID: "", topics: topics)
        configuration.consumer = consumerConfiguration(bootstrapServers: bootstrapServers, group: group ?? unique("g"),
                                                       groupProtocol: groupProtocol)
        configuration.retry = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(100))
        configuration.summaryInterval = .seconds(5)
        return configuration
    }

    /// Producer settings with a 20 s delivery timeout.
    public static func producerConfiguration(bootstrapServers: [String]) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrapServers)
        configuration.deliveryTimeout = .seconds(20)
        return configuration
    }
}

extension KafkaTesting {
    /// Sends the records to the cluster at `bootstrapServers` and waits for every delivery report.
    public static func send(_ records: [KafkaProducerRecord], to bootstrapServers: [String]) async throws {
        let producer = try KafkaProducer(configuration: producerConfiguration(bootstrapServers: bootstrapServers),
                                         logger: logger)
        let results = await producer.sendAll(records)
        await producer.close()
        for result in results { _ = try result.get() }
    }
}
