import KafkaClient
import Logging

/// Sample orders: JSON values keyed by customer, so one customer's orders share a partition.
enum DemoOrders {
    static func value(for index: Int) -> String {
        let amount = (index * 7919) % 100_000
        return #"{"orderId":"order-\#(index)","customerId":"customer-\#(index % 997)","amountCents":\#(amount)}"#
    }

    static func produce(count: Int, to bootstrapServers: [String], logger: Logger) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: bootstrapServers), logger: logger)
        let chunk = 10_000
        for start in stride(from: 0, to: count, by: chunk) {
            let records = (start..<min(start + chunk, count)).map { index in
                KafkaProducerRecord(topic: "orders", key: "customer-\(index % 997)", value: value(for: index),
                                    headers: [KafkaHeader(name: "source", string: "kafka-worker demo")])
            }
            for result in await producer.sendAll(records) { _ = try result.get() }
        }
        await producer.close()
    }
}
