internal import Crdkafka
#if canImport(Glibc)
import Glibc
#endif

/// Owns an `rd_kafka_topic_partition_list_t`.
final class RDKafkaTopicPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int = 1) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(capacity, 1)))
    }

    convenience init(_ offsets: [KafkaTopicPartitionOffset]) {
        self.init(capacity: offsets.count)
        for entry in offsets {
            let element = rd_kafka_topic_partition_list_add(pointer, entry.topic, entry.partition)!
            element.pointee.offset = entry.offset
            if let metadata = entry.metadata, !metadata.isEmpty {
                // The list frees it (with free()) when it is destroyed.
                let bytes = Array(metadata.utf8)
                let copy = malloc(bytes.count)!
                bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                element.pointee.metadata = copy
                element.pointee.metadata_size = bytes.count
            }
        }
    }

    convenience init(_ partitions: [KafkaTopicPartition]) {
        self.init(partitions.map { KafkaTopicPartitionOffset($0, offset: KafkaOffset.invalid) })
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// Runs `body` with the list alive (a temporary's `pointer` alone does not keep it alive).
    func withPointer<T>(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> T) -> T {
        withExtendedLifetime(self) { body(pointer) }
    }

    var offsets: [KafkaTopicPartitionOffset] { Self.offsets(of: pointer) }

    /// Entries whose per-partition error is set.
    func errors(operation: String) -> [(KafkaTopicPartitionOffset, KafkaError)] {
        Self.entries(of: pointer).compactMap { entry, err in
            err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : (entry, KafkaError(rdCode: err, operation: operation))
        }
    }

    static func offsets(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [KafkaTopicPartitionOffset] {
        entries(of: list).map(\.0)
    }

    static func partitions(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [KafkaTopicPartition] {
        entries(of: list).map(\.0.topicPartition)
    }

    private static func entries(of list: UnsafePointer<rd_kafka_topic_partition_list_t>)
        -> [(KafkaTopicPartitionOffset, rd_kafka_resp_err_t)]
    {
        let count = Int(list.pointee.cnt)
        guard count > 0, let elems = list.pointee.elems else { return [] }
        return (0..<count).map { index in
            let element = elems[index]
            let metadata = element.metadata.flatMap { bytes -> String? in
                element.metadata_size > 0
                    ? String(decoding: UnsafeRawBufferPointer(start: bytes, count: element.metadata_size), as: UTF8.self) : nil
            }
            return (KafkaTopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition,
                                              offset: element.offset, metadata: metadata), element.err)
        }
    }
}
