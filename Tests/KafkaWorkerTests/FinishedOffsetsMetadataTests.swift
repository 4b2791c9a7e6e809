import KafkaClient
@testable import KafkaWorker
import KafkaWorkerTesting
import Testing

@Suite("Finished offsets in the commit's metadata")
struct FinishedOffsetsMetadataTests {
    @Test("ranges round-trip through the text; what does not fit the budget is left out, highest first")
    func roundTripAndBudget() throws {
        let ranges: [ClosedRange<Int64>] = [5...5, 7...40, 1_000_000...1_000_063, 90_000_000...90_000_000]
        let text = try #require(FinishedOffsetsMetadata.encode(committed: 3, ranges, maxBytes: 4_000))
        #expect(text.hasPrefix("kw1:3:"))
        #expect(FinishedOffsetsMetadata.decode(text, committed: 3) == ranges)
        let short = try #require(FinishedOffsetsMetadata.encode(committed: 3, ranges, maxBytes: 14))
        #expect(short.utf8.count <= 14)
        #expect(FinishedOffsetsMetadata.decode(short, committed: 3) == Array(ranges.prefix(2)))
        #expect(FinishedOffsetsMetadata.encode(committed: 3, ranges, maxBytes: 8) == nil, "not even one range fits")
        #expect(FinishedOffsetsMetadata.encode(committed: 3, [], maxBytes: 100) == nil)
        #expect(FinishedOffsetsMetadata.encode(committed: 3, [2...4], maxBytes: 100) == nil, "not above the commit")
        // Ranges from two sources (finished here, listed by the commit this assignment started from) join in order.
        let joined = try #require(FinishedOffsetsMetadata.encode(committed: 3, [5...5], then: [9...12], maxBytes: 100))
        #expect(FinishedOffsetsMetadata.decode(joined, committed: 3) == [5...5, 9...12])
    }

    @Test("metadata of another offset, of another kind, malformed, overflowing or reaching too far is ignored")
    func refusedMetadata() throws {
        let text = try #require(FinishedOffsetsMetadata.encode(committed: 100, [105...110], maxBytes: 100))
        #expect(FinishedOffsetsMetadata.decode(text, committed: 100) == [105...110])
        #expect(FinishedOffsetsMetadata.decode(text, committed: 90) == nil, "an administrator moved the offset, kept the text")
        let maxText = String(Int64.max, radix: 36)
        for junk in ["", "kw1:", "kw1:2s:", "kw1:2s:1+", "kw1:2s:+1", "kw1:2s:-1+2", "kw1:2s:1+1,,2+2", "kw2:2s:1+1", "hello",
                     "kw1:2s:0+zzzzzzzzzzzz", "kw1:2s:zzzzzzzzzzzzz+0", "kw1:\(maxText):0+0,0+0", "kw1:2s:0+1y2p0ij32e8e7,0+0"] {
            #expect(FinishedOffsetsMetadata.decode(junk, committed: 100) == nil, "\(junk)")
        }
        #expect(FinishedOffsetsMetadata.decode("kw1:\(maxText):0+0", committed: Int64.max) == nil, "no room above the offset")
    }

    @Test("random range sets round-trip", arguments: 0..<20)
    func randomRoundTrips(seed: Int) {
        var rng = SplitMix(seed: UInt64(seed))
        let committed = Int64(rng.next() % 1_000_000)
        var ranges: [ClosedRange<Int64>] = []
        var next = committed + 1 + Int64(rng.next() % 1_000)
        for _ in 0..<Int(rng.next() % 60) {
            let length = Int64(rng.next() % 50)
            ranges.append(next...(next + length))
            next += length + 2 + Int64(rng.next() % 500)
        }
        let text = FinishedOffsetsMetadata.encode(committed: committed, ranges, maxBytes: 100_000)
        #expect(text.flatMap { FinishedOffsetsMetadata.decode($0, committed: committed) } ?? [] == ranges)
    }

    @Test("a partition assigned with finished ranges takes those records as finished: they never run, the commit passes them")
    func assignedSkipsFinished() throws {
        var scheduler = WorkerScheduler(limits: .init(ordering: .key, maxConcurrency: 4, chunkSize: 100, maxBuffered: 1_000,
                                                      maxBufferedPerPartition: 1_000, commitMetadataMaxBytes: 4_000))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1, skip: [p: [12...14, 17...17]])
        let records = (10..<20).map { KafkaRecord(topic: "t", partition: 0, offset: Int64($0), key: KafkaBytes(utf8: "k\($0)")) }
        let actions = scheduler.receive(records, generation: 1)
        var handedOut: [Int64] = []
        // Six keys, a lane each, four running: a lane that runs dry hands its turn to a waiting one.
        var lanes = actions.startLanes
        while let lane = lanes.popLast() {
            while true {
                switch scheduler.take(for: lane) {
                case .chunk(let chunk):
                    handedOut += chunk.records.map(\.offset)
                    continue
                case .idle(let next):
                    if let next { lanes.append(next) }
                }
                break
            }
        }
        #expect(handedOut.sorted() == [10, 11, 15, 16, 18, 19])
        #expect(scheduler.skippedAsFinished == 4)
        #expect(scheduler.buffered == 6)
        // With 10 and 11 finished the commit passes the skipped 12–14 and stops at 15; 17 is listed above it.
        let store = scheduler.finished([10, 11], of: p, epoch: 1).store
        #expect(store.map(\.offset) == [15])
        let commit = try #require(scheduler.committableOffsets.first)
        #expect(commit.offset == 15)
        #expect(commit.metadata.flatMap { FinishedOffsetsMetadata.decode($0, committed: 15) } == [17...17])
    }

    @Test("listed ranges that have not arrived yet are carried into the next commit's metadata")
    func notArrivedRangesCarried() throws {
        var scheduler = WorkerScheduler(limits: .init(ordering: .partition, maxConcurrency: 1, chunkSize: 100, maxBuffered: 1_000,
                                                      maxBufferedPerPartition: 1_000, commitMetadataMaxBytes: 4_000))
        let p = KafkaTopicPartition(topic: "t", partition: 0)
        _ = scheduler.assign([p], generation: 1, skip: [p: [150...300]])
        let lane = try #require(scheduler.receive((100..<150).map { KafkaRecord(topic: "t", partition: 0, offset: Int64($0)) },
                                                  generation: 1).startLanes.first)
        guard case .chunk(let chunk) = scheduler.take(for: lane) else { Issue.record("no chunk"); return }
        _ = scheduler.finished(chunk.records.map(\.offset), of: p, epoch: chunk.epoch)
        let commit = try #require(scheduler.committableOffsets.first)
        #expect(commit.offset == 150)
        #expect(commit.metadata.flatMap { FinishedOffsetsMetadata.decode($0, committed: 150) } == [150...300],
                "a crash now must not make the next owner run 150–300 again")
    }
}
