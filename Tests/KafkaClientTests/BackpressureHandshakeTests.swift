@testable import KafkaClient
import Logging
import Testing

@Suite("Back-pressure against a reader that caught up (no broker)", .timeLimit(.minutes(1)))
struct BackpressureHandshakeTests {
    /// The poll thread pauses fetching when its wait for a slow reader times out. If the reader empties the hand-off
    /// between that timeout and the pause, it finds fetching not paused (nothing to resume) and waits for records
    /// that can no longer come: the consumer would stop for good.
    @Test("a pause decided after the reader emptied the hand-off does not leave fetching paused")
    func readerCaughtUpBeforeThePause() async throws {
        let core = ConsumerCore(
            configuration: KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:9"], groupID: "g"),
            hooks: .none, logger: Logger(label: "test"))
        let (waiting, reached) = AsyncStream.makeStream(of: Void.self)
        // The reader finds the hand-off empty: it asks for fetching to go on (not paused yet), then waits.
        let reader = Task {
            try await core.handoff.next {
                core.leaveBackpressure()
                reached.yield()
            }
        }
        var iterator = waiting.makeAsyncIterator()
        _ = await iterator.next()
        // Now the poll thread acts on its timed-out wait.
        core.enterBackpressure()
        #expect(!core.state.withLock { $0.backpressure }, "fetching paused while the reader waits on an empty hand-off")
        core.handoff.finish()
        #expect(try await reader.value == nil)
    }
}
