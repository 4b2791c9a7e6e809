import KafkaClient
import Logging

/// An order as the demo produces and handles it.
struct Order: Codable, Sendable {
    var orderId: String
    var customerId: String
    var amountCents: Int
}

/// The demo's input: `count` orders keyed by customer (so one customer's orders share a partition), every
/// 100th followed by a re-send of an earlier order (a producer duplicate at a new offset), and a few
/// malformed records spread through the stream.
struct DemoOrders {
    let count: Int
    let topic: String

    /// Values no order decoder accepts: invalid JSON, wrong schema, empty, invalid UTF-8, wrong types.
    static let malformed: [[UInt8]?] = [
        Array("{\"orderId\": \"broken".utf8),
        Array("{\"order\": 1}".utf8),
        [],
        nil,
        [0xFF, 0xFE, 0xFD],
        Array("[1, 2, 3]".utf8),
        Array("{\"orderId\":\"x\",\"customerId\":\"c\",\"amountCents\":\"ten\"}".utf8),
        Array("not json at all".utf8),
    ]

    var duplicates: Int { count / 100 }
    var malformedCount: Int { Self.malformed.count }
    var total: Int { count + duplicates + malformedCount }

    static func order(_ index: Int) -> Order {
        Order(orderId: "order-\(index)", customerId: "customer-\(index % 997)", amountCents: (index * 7919) % 100_000)
    }

    func records() -> [KafkaProducerRecord] {
        var records: [KafkaProducerRecord] = []
        records.reserveCapacity(total)
        let malformedEvery = max(1, count / malformedCount)
        var nextMalformed = 0
        for index in 0..<count {
            let order = Self.order(index)
            records.append(record(order))
            if index % 100 == 99 { records.append(record(Self.order(index - 50))) }
            if index % malformedEvery == malformedEvery / 2 && nextMalformed < malformedCount {
                records.append(KafkaProducerRecord(topic: topic, key: KafkaBytes(utf8: "customer-malformed"),
                                                   value: Self.malformed[nextMalformed].map(KafkaBytes.init)))
                nextMalformed += 1
            }
        }
        while nextMalformed < malformedCount {
            records.append(KafkaProducerRecord(topic: topic, key: KafkaBytes(utf8: "customer-malformed"), value: Self.malformed[nextMalformed].map(KafkaBytes.init)))
            nextMalformed += 1
        }
        return records
    }

    private func record(_ order: Order) -> KafkaProducerRecord {
        let json = #"{"orderId":"\#(order.orderId)","customerId":"\#(order.customerId)","amountCents":\#(order.amountCents)}"#
        return KafkaProducerRecord(topic: topic, key: order.customerId, value: json,
                                   headers: [KafkaHeader(name: "source", string: "kafka-worker demo")])
    }

    func produce(to bootstrapServers: [String], logger: Logger) async throws {
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: bootstrapServers), logger: logger)
        let all = records()
        for start in stride(from: 0, to: all.count, by: 10_000) {
            for result in await producer.sendAll(Array(all[start..<min(start + 10_000, all.count)])) { _ = try result.get() }
        }
        await producer.close()
    }
}
