import Foundation
import KafkaClient
import KafkaWorkerTesting

/// A test order: `{"id": "...", "orderNo": "..."}`.
struct Order: Codable, Sendable {
    var id: String
    var orderNo: String
}

enum Orders {
    /// `count` orders o0…, each to partition `i % partitions`, then `duplicates` of them re-sent to another
    /// partition (a producer duplicate at a new offset).
    static func records(topic: String, count: Int, duplicates: Int, partitions: Int32) -> [KafkaProducerRecord] {
        let originals = (0..<count).map { record(topic, id: "o\($0)", partition: Int32($0) % partitions) }
        let copies = (0..<duplicates).map { record(topic, id: "o\($0 * count / max(duplicates, 1))",
                                                   partition: (Int32($0 * count / max(duplicates, 1)) + 1) % partitions) }
        return originals + copies
    }

    static func record(_ topic: String, id: String, orderNo: String? = nil, partition: Int32) -> KafkaProducerRecord {
        let number = orderNo ?? "n-\(id)"
        return KafkaProducerRecord(topic: topic, partition: partition, key: id, value: #"{"id":"\#(id)","orderNo":"\#(number)"}"#)
    }
}
