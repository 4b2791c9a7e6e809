import KafkaClient
import Logging

enum BenchData {
    /// Produces `count` records of ~100 bytes, keyed over `keys` keys (record i has key `key-(i % keys)`).
    static func produce(_ count: Int, keys: Int, topic: String, to servers: [String], logger: Logger) async throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: servers)
        configuration.linger = .milliseconds(20)
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let padding = String(repeating: "x", count: 60)
        for start in stride(from: 0, to: count, by: 20_000) {
            let batch = (start..<min(start + 20_000, count)).map { index in
                KafkaProducerRecord(topic: topic, key: "key-\(index % keys)", value: #"{"id":\#(index),"pad":"\#(padding)"}"#)
            }
            for result in await producer.sendAll(batch) { _ = try result.get() }
        }
        await producer.close()
    }

    /// Fails unless every partition still starts at offset 0 and holds `atLeast` records in all: the
    /// embedded cluster silently drops data past 5 MiB or 100,000 batches per partition.
    static func checkRetained(topic: String, servers: [String], atLeast: Int) async throws {
        let admin = try KafkaAdmin(connection: .init(bootstrapServers: servers))
        let count = try await admin.partitionCount(topic: topic)
        var total: Int64 = 0
        for partition in 0..<Int32(count) {
            let watermarks = try await admin.watermarks(for: KafkaTopicPartition(topic: topic, partition: partition))
            guard watermarks.low == 0 else {
                throw BenchError("partition \(partition) of \(topic) starts at \(watermarks.low): data was dropped; use fewer records")
            }
            total += watermarks.high
        }
        guard total >= atLeast else { throw BenchError("\(topic) holds \(total) records, fewer than \(atLeast)") }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
