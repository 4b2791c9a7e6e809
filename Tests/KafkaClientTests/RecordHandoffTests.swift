@testable import KafkaClient
import Synchronization
import Testing

@Suite("Record hand-off (no broker)", .timeLimit(.minutes(1)))
struct RecordHandoffTests {
    static func batch(_ partition: Int32, _ offsets: Range<Int64>) -> [KafkaRecord] {
        offsets.map { KafkaRecord(topic: "t", partition: partition, offset: $0) }
    }

    @Test("batches come out in order; the buffer reports high and low watermarks")
    func orderAndWatermarks() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 10, lowWatermark: 4)
        handoff.push(Self.batch(0, 0..<5))
        #expect(!handoff.isAboveHigh)
        handoff.push(Self.batch(0, 5..<10))
        #expect(handoff.isAboveHigh)
        #expect(handoff.count == 10)

        var lows = 0
        let first = try await handoff.next { lows += 1 }
        #expect(first?.map(\.offset) == Array(0..<5))
        #expect(lows == 0, "5 left is above the low watermark")
        let second = try await handoff.next { lows += 1 }
        #expect(second?.map(\.offset) == Array(5..<10))
        #expect(lows == 1)
        #expect(handoff.count == 0)
    }

    @Test("purge drops only the revoked partitions' records")
    func purge() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 100, lowWatermark: 10)
        handoff.push(Self.batch(0, 0..<3) + Self.batch(1, 0..<3))
        handoff.push(Self.batch(1, 3..<6))
        handoff.purge([KafkaTopicPartition(topic: "t", partition: 1)])
        #expect(handoff.count == 3)
        handoff.finish()
        let remaining = try await handoff.next {}
        #expect(remaining?.map(\.partition) == [0, 0, 0])
        #expect(try await handoff.next {} == nil, "an all-purged batch is skipped, then the end")
    }

    @Test("a waiting reader gets the next push; finish with an error ends the sequence with it")
    func waitingReaderAndFailure() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 100, lowWatermark: 10)
        let reader = Task { try await handoff.next {} }
        try await Task.sleep(for: .milliseconds(50))
        handoff.push(Self.batch(2, 7..<8))
        #expect(try await reader.value?.first?.offset == 7)

        handoff.push(Self.batch(2, 8..<9))
        handoff.finish(error: KafkaError(code: .fatal, operation: "consume", message: "fenced"))
        #expect(try await handoff.next {}?.first?.offset == 8, "buffered records come before the error")
        await #expect(throws: KafkaError.self) { try await handoff.next {} }
        #expect(try await handoff.next {} == nil, "the error is reported once")
        handoff.push(Self.batch(2, 9..<10))
        #expect(handoff.count == 0, "nothing is accepted after finish")
    }

    @Test("cancelling a waiting reader ends its wait with CancellationError")
    func cancellation() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 100, lowWatermark: 10)
        let reader = Task { try await handoff.next {} }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
        handoff.push(Self.batch(0, 0..<1))
        #expect(try await handoff.next {}?.count == 1, "a later reader still gets the records")
    }

    @Test("purgeAll drops everything buffered; the sequence then ends")
    func purgeAll() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 100, lowWatermark: 10)
        handoff.push(Self.batch(0, 0..<5))
        handoff.push(Self.batch(1, 0..<5))
        handoff.purgeAll()
        #expect(handoff.count == 0)
        handoff.finish()
        #expect(try await handoff.next {} == nil)
    }
}
