import KafkaWorkerTesting
@testable import KafkaWorker
import Testing

@Suite("Contiguous offsets (plain values)")
struct PartitionProgressTests {
    @Test("a finished offset never moves the commit past an unfinished lower one")
    func neverPastAGap() {
        var progress = PartitionProgress()
        #expect(progress.committableOffset == nil)
        for offset in Int64(0)...9 { progress.received(offset) }
        #expect(progress.committableOffset == 0)
        progress.finish(6)
        progress.finish(7)
        #expect(progress.committableOffset == 0, "0 is unfinished")
        for offset in Int64(0)...4 { progress.finish(offset) }
        #expect(progress.committableOffset == 5, "5 is the lowest unfinished")
        progress.finish(8)
        progress.finish(9)
        #expect(progress.committableOffset == 5)
        progress.finish(5)
        #expect(progress.committableOffset == 10, "all finished: last received + 1")
        #expect(progress.unfinished == 0)
    }

    @Test("the source chapter's loss: offset 5 fails, 6 succeeds — the commit stays at 5")
    func seedLossBug() {
        var progress = PartitionProgress()
        for offset in Int64(0)...6 { progress.received(offset) }
        for offset in Int64(0)...4 { progress.finish(offset) }
        progress.finish(6)
        #expect(progress.committableOffset == 5)
        #expect(progress.isUnfinished(5))
    }

    @Test("gaps in offsets (compaction) and re-fetched offsets are handled")
    func gapsAndRefetch() {
        var progress = PartitionProgress()
        for offset: Int64 in [3, 7, 8, 20] { progress.received(offset) }
        progress.received(7)  // re-fetch: ignored
        #expect(progress.unfinished == 4)
        #expect(progress.committableOffset == 3)
        progress.finish(3)
        #expect(progress.committableOffset == 7)
        let neverReceived = progress.finish(4)
        let finishedTwice = progress.finish(3)
        #expect(neverReceived == nil)
        #expect(finishedTwice == nil)
        progress.finish(20)
        progress.finish(8)
        progress.finish(7)
        #expect(progress.committableOffset == 21)
    }

    @Test("100,000 offsets finished in random order end at last + 1, never passing a gap on the way")
    func randomOrder() {
        var progress = PartitionProgress()
        for offset in Int64(0)..<100_000 { progress.received(offset) }
        var generator = SplitMix(seed: 42)
        var order = Array(Int64(0)..<100_000)
        order.shuffle(using: &generator)
        var finished = Set<Int64>()
        for (step, offset) in order.enumerated() {
            progress.finish(offset)
            finished.insert(offset)
            if step % 997 == 0 {
                let committable = progress.committableOffset!
                #expect(!finished.contains(committable) || committable == 100_000)
                #expect((0..<committable).allSatisfy { finished.contains($0) })
            }
        }
        #expect(progress.committableOffset == 100_000)
    }
}
