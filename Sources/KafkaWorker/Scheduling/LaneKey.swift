import KafkaClient

/// A lane runs its records one at a time, in order. Per partition there is one lane (`.partition`), a lane per
/// key (`.key`: the slot is the key's 64-bit hash, so two keys share a lane only on a hash collision — never because
/// there are more keys than `maxConcurrency`), or `maxConcurrency` lanes filled round robin (`.unordered`).
struct LaneKey: Hashable, Sendable, CustomStringConvertible {
    let partition: KafkaTopicPartition
    let slot: Int

    var description: String { "\(partition)#\(slot)" }

    /// The lane of `key` among `slots` lanes (`.max`: the whole 64-bit hash). FNV-1a: stable across processes,
    /// unlike `Hasher`. A record without a key is in lane 0.
    static func slot(forKey key: KafkaBytes?, slots: Int = .max) -> Int {
        guard let key, slots > 1 else { return 0 }
        let hash = key.withUnsafeBytes { bytes in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            return hash
        }
        return slots == .max ? Int(truncatingIfNeeded: hash) : Int(hash % UInt64(slots))
    }
}
