@testable import KafkaClient
import Testing

@Suite("Hand-off byte limits (no broker)", .timeLimit(.minutes(1)))
struct HandoffBytesTests {
    static func large(_ offset: Int64, bytes: Int) -> KafkaRecord {
        KafkaRecord(topic: "t", partition: 0, offset: offset, value: KafkaBytes([UInt8](repeating: 7, count: bytes)))
    }

    @Test("1 MiB records: the byte watermark pauses long before the record watermark, and resumes at the low one")
    func bytesBoundTheBuffer() async throws {
        let handoff = RecordHandoff<[KafkaRecord]>(highWatermark: 10_000, lowWatermark: 5_000,
                                                   highWatermarkBytes: 4 << 20, lowWatermarkBytes: 2 << 20)
        for offset in 0..<3 { handoff.push([Self.large(Int64(offset), bytes: 1 << 20)]) }
        #expect(!handoff.isAboveHigh)
        handoff.push([Self.large(3, bytes: 1 << 20)])
        #expect(handoff.isAboveHigh, "4 MiB buffered in 4 records")
        #expect(handoff.bytes == 4 << 20)
        var lows = 0
        _ = try await handoff.next { lows += 1 }
        #expect(lows == 0, "3 MiB left is above the low byte watermark")
        _ = try await handoff.next { lows += 1 }
        #expect(lows == 1, "2 MiB: low")
        handoff.purge([KafkaTopicPartition(topic: "t", partition: 0)])
        #expect(handoff.bytes == 0)
    }
}
