import KafkaClient
@testable import KafkaWorker
import KafkaWorkerTesting
import Testing

@Suite("Finished offsets in the commit's metadata")
struct FinishedOffsetsMetadataTests {
    @Test("ranges round-trip through the text; what does not fit the budget is left out, highest first")
    func roundTripAndBudget() throws {
        let ranges: [ClosedRange<Int64>] = [5...5, 7...40, 1_000_000...1_000_063, 9_000_000_000...9_000_000_000]
        let text = try #require(FinishedOffsetsMetadata.encode(ranges, maxBytes: 4_000))
        #expect(text.hasPrefix("kw1:"))
        #expect(FinishedOffsetsMetadata.decode(text) == ranges)
        let short = try #require(FinishedOffsetsMetadata.encode(ranges, maxBytes: 14))
        #expect(short.utf8.count <= 14)
        #expect(FinishedOffsetsMetadata.decode(short) == Array(ranges.prefix(2)))
        #expect(FinishedOffsetsMetadata.encode(ranges, maxBytes: 6) == nil, "not even one range fits")
        #expect(FinishedOffsetsMetadata.encode([], maxBytes: 100) == nil)
    }

    @Test("random range sets round-trip; foreign or malformed metadata is ignored", arguments: 0..<20)
    func randomRoundTrips(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        var ranges: [ClosedRange<Int64>] = []
        var next = Int64(rng.next() % 1_000)
        for _ in 0..<Int(rng.next() % 60) {
            let length = Int64(rng.next() % 50)
            ranges.append(next...(next + length))
            next += length + 2 + Int64(rng.next() % 500)
        }
        let text = FinishedOffsetsMetadata.encode(ranges, maxBytes: 100_000)
        #expect(text.flatMap(FinishedOffsetsMetadata.decode) ?? [] == ranges)
        for junk in ["", "kw1:", "kw1:1+", "kw1:+1", "kw1:-1+2", "kw1:zzzzzzzzzzzzzzzz+1", "kw2:1+1", "hello", "kw1:1+1,,2+2"] {
            #expect(FinishedOffsetsMetadata.decode(junk) == nil, "\(junk)")
        }
    }

    @Test("a partition assigned with finished ranges takes those records as finished: they never run, the commit passes them")
    func assignedSkipsFinished() {
        var scheduler = WorkerScheduler(limits: .init(ordering: .key, maxConcurrency: 4, chunkSize: 100, maxBuffered: 1_000,
                                                      maxBufferedPerPartition: 1_000, commitMetadataMaxBytes: 4_000))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1, skip: [p: [12...14, 17...17]])
        let records = (10..<20).map { KafkaRecord(topic: "t", partition: 0, offset: Int64($0), key: KafkaBytes(utf8: "k\($0)")) }
        let actions = scheduler.receive(records, generation: 1)
        var handedOut: [Int64] = []
        for lane in actions.startLanes {
            while case .chunk(let chunk) = scheduler.take(for: lane) { handedOut += chunk.records.map(\.offset) }
        }
        #expect(handedOut.sorted() == [10, 11, 15, 16, 18, 19])
        #expect(scheduler.skippedAsFinished == 4)
        #expect(scheduler.buffered == 6)
        // With 10 and 11 finished the commit passes the skipped 12–14 and stops at 15; 17 is listed above it.
        let store = scheduler.finished([10, 11], of: p, epoch: 1).store
        #expect(store.map(\.offset) == [15])
        #expect(store.first?.metadata.flatMap(FinishedOffsetsMetadata.decode) == [17...17])
    }
}
