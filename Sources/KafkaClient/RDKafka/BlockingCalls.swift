import Dispatch
import Synchronization

/// Runs librdkafka calls that may block (sync commit, committed, watermark queries, metadata, flush, close)
/// off Swift's cooperative pool, and resumes the caller when they return.
///
/// Serial queues, not one concurrent queue: libdispatch gives serial queues threads of their own when they
/// block, while a concurrent queue shares the small default pool (two threads on two cores), where two
/// long calls would stall every other client in the process.
struct BlockingCalls: Sendable {
    private let queues: [DispatchQueue]
    private let next = Counter()

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    init(label: String, width: Int = 4) {
        self.queues = (0..<width).map { DispatchQueue(label: "\(label).\($0)") }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let queue = queues[next.value.add(1, ordering: .relaxed).newValue % queues.count]
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
