import KafkaClient

/// A lane runs its records one at a time, in order. Per partition there is one lane (`.partition`),
/// or `maxConcurrency` lanes chosen by key hash (`.key`) or round robin (`.unordered`).
struct LaneKey: Hashable, Sendable, CustomStringConvertible {
    let partition: KafkaTopicPartition
    let slot: Int

    var description: String { "\(partition)#\(slot)" }

    /// FNV-1a: stable across processes, unlike `Hasher`.
    static func slot(forKey key: KafkaBytes?, slots: Int) -> Int {
        guard let key, slots > 1 else { return 0 }
        let hash = key.withUnsafeBytes { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            return hash
        }
        return Int(hash % UInt64(slots))
    }
}
