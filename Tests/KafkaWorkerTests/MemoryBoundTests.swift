import Foundation
import KafkaClient
import KafkaWorker
import KafkaWorkerTesting
import Synchronization
import Testing

/// Back-pressure in bytes, measured where it matters: the resident memory of a worker process fed ~1 MB records
/// faster than its handlers finish them. Each case runs in a process of its own (an exit test), so the suite's
/// other tests do not move the figure.
@Suite("Memory stays bounded with 1 MB records", .timeLimit(.minutes(3)))
struct MemoryBoundTests {
    @Test("400 records of 1 MB, handlers held: resident memory grows by less than the configured limits plus slack")
    func oneMegabyteRecords() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let growth = try await MemoryProbe.peakGrowth(limited: true)
            let bound = MemoryProbe.limits + MemoryProbe.slack
            FileHandle.standardError.write(Data("peak growth \(growth >> 20) MiB, bound \(bound >> 20) MiB\n".utf8))
            if growth > bound { exit(1) }
        }
        let text = result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? ""
        print("memory bound, 1 MB records: \(text.suffix(3_000))")
    }

    @Test("the same without byte limits holds far more: the check above can fail")
    func withoutByteLimitsTheCheckFails() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let growth = try await MemoryProbe.peakGrowth(limited: false)
            FileHandle.standardError.write(Data("peak growth without byte limits \(growth >> 20) MiB\n".utf8))
            if growth <= MemoryProbe.limits + MemoryProbe.slack { exit(1) }
        }
        print("memory, 1 MB records: \(result.map { String(decoding: $0.standardErrorContent, as: UTF8.self) } ?? "")")
    }
}

enum MemoryProbe {
    static let recordBytes = 1_000_000 - 512  // the producer's message.max.bytes is 1,000,000 with its framing
    static let recordCount = 400
    static let workerBytes = 24 << 20
    static let handoffBytes = 8 << 20
    static let prefetchKilobytes = 16 << 10
    /// What the worker, the hand-off and librdkafka's prefetch may hold.
    static let limits = workerBytes + handoffBytes + prefetchKilobytes << 10
    /// A fetch response being read (`fetch.max.bytes`, 50 MiB), allocator slack, the cluster's own buffers.
    static let slack = 128 << 20

    /// Resident bytes of this process (`/proc/self/statm`).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Produces the records, then runs a worker whose handlers wait: the peak of resident memory over the
    /// baseline after producing. Then lets them go and checks every record was handled once.
    static func peakGrowth(limited: Bool) async throws -> Int {
        // The embedded cluster keeps about 5 MB per partition (older records are deleted): 4 records on each of 100.
        let topic = try KafkaTesting.topic("rss", partitions: 100)
        let payload = KafkaBytes(Array(repeating: UInt8(ascii: "x"), count: recordBytes))
        for start in stride(from: 0, to: recordCount, by: 50) {
            try await KafkaTesting.send((start..<start + 50).map {
                KafkaProducerRecord(topic: topic, partition: Int32($0 % 100), key: KafkaBytes(utf8: "k\($0)"), value: payload)
            })
        }
        var configuration = KafkaTesting.workerConfiguration(topics: [topic])
        configuration.maxConcurrency = 4
        configuration.consumer.fetch.maxQueuedKilobytes = prefetchKilobytes
        if limited {
            configuration.maxBufferedBytes = workerBytes
            configuration.consumer.handoff.highWatermarkBytes = handoffBytes
            configuration.consumer.handoff.lowWatermarkBytes = handoffBytes / 2
        } else {
            configuration.maxBufferedBytes = 64 << 30
            configuration.consumer.handoff.highWatermarkBytes = 16 << 30
            configuration.consumer.handoff.lowWatermarkBytes = 8 << 30
        }
        let open = Atomic<Bool>(false)
        let handled = Atomic<Int>(0)
        let baseline = residentBytes()
        let worker = RunningWorker(KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(),
                                               logger: KafkaTesting.logger) { record in
            while !open.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(20)) }
            if record.value.value?.count == recordBytes { handled.add(1, ordering: .relaxed) }
        })
        var peak = baseline
        // 10 s with the handlers held (without limits: until the worker holds most of the topic).
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end && (limited || peak - baseline < recordCount * recordBytes * 3 / 4) {
            peak = max(peak, residentBytes())
            try await Task.sleep(for: .milliseconds(50))
        }
        open.store(true, ordering: .releasing)
        do {
            try await waitUntil("every record handled", within: .seconds(60)) { handled.load(ordering: .relaxed) == recordCount }
        } catch {
            FileHandle.standardError.write(Data("handled \(handled.load(ordering: .relaxed)) of \(recordCount): \(worker.worker.statistics)\n".utf8))
            throw error
        }
        try await worker.stop()
        return peak - baseline
    }
}
