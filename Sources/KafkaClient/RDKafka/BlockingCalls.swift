import Dispatch

/// Runs librdkafka calls that may block (sync commit, committed, watermark queries, metadata, close)
/// on dispatch threads, never on Swift's cooperative pool, and resumes the caller when they return.
struct BlockingCalls: Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        self.queue = DispatchQueue(label: label, attributes: .concurrent)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
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
