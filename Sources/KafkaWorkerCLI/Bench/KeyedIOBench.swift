import Foundation
import KafkaClient
import KafkaWorker
import Logging

/// The keyed-I/O case: a handler that awaits `latency` (simulated I/O, no CPU), records spread over `keys` keys,
/// the worker in each ordering mode at each concurrency. Beside each row, the bound that mode allows — what a
/// perfect scheduler would reach — and the share of it reached:
/// - partition: one record at a time per partition, so min(concurrency, partitions) / latency;
/// - key: one at a time per key, so min(concurrency, keys) / latency, and no faster than the busiest key's records
///   one after another;
/// - unordered: concurrency / latency.
/// And the same handler without the worker: as many tasks as the mode has lanes at once, each awaiting the latency
/// record after record — what this machine reaches with that handler and a perfect scheduler ("ideal", measured in
/// the same run: at high concurrency the timers of the awaits themselves cost CPU).
struct KeyedIOBench {
    let contenders: BenchContenders
    let latency: Duration
    let keys: Int
    let partitions: Int
    let records: Int

    func run(concurrencies: [Int], modes: [OrderingMode], repeats: Int) async throws -> [String] {
        var rows: [(name: String, rounds: [BenchResult], bound: Double, ideal: Double)] = []
        for concurrency in concurrencies {
            for mode in modes {
                var rounds: [BenchResult] = []
                var ideal = 0.0
                for _ in 0..<repeats {
                    rounds.append(try await worker(mode: mode, concurrency: concurrency))
                    ideal = max(ideal, await self.ideal(mode, concurrency: concurrency))
                }
                rows.append(("worker(\(mode))/\(concurrency)", rounds, bound(mode, concurrency: concurrency), ideal))
            }
        }
        var lines = ["handler awaits \(format2(latency.seconds * 1_000)) ms; \(records) records over \(keys) keys and "
            + "\(partitions) partitions; bound = what the ordering allows at that latency"]
        lines.append(BenchTable.pad("contender", 26) + BenchTable.padLeft("records", 9) + BenchTable.padLeft("seconds", 9)
            + BenchTable.padLeft("records/s", 11) + BenchTable.padLeft("bound/s", 10) + BenchTable.padLeft("of bound", 10)
            + BenchTable.padLeft("ideal/s", 10) + BenchTable.padLeft("of ideal", 10) + BenchTable.padLeft("peak MiB", 10))
        for row in rows {
            let top = row.rounds.max { $0.recordsPerSecond < $1.recordsPerSecond }!
            lines.append(BenchTable.pad(row.name, 26) + BenchTable.padLeft(String(top.records), 9)
                + BenchTable.padLeft(format2(top.elapsed.seconds), 9) + BenchTable.padLeft(String(Int(top.recordsPerSecond)), 11)
                + BenchTable.padLeft(String(Int(row.bound)), 10) + BenchTable.padLeft(format2(top.recordsPerSecond / row.bound), 10)
                + BenchTable.padLeft(String(Int(row.ideal)), 10) + BenchTable.padLeft(format2(top.recordsPerSecond / row.ideal), 10)
                + BenchTable.padLeft(String(row.rounds.map(\.peakBytes).max()! >> 20), 10))
        }
        return lines
    }

    /// Records per second a perfect scheduler reaches in `mode` at `concurrency`.
    func bound(_ mode: OrderingMode, concurrency: Int) -> Double {
        Double(records) / (Double(shape(mode, concurrency: concurrency).perLane) * latency.seconds)
    }

    /// Lanes running at once in `mode`, and the records the busiest runs one after another (records spread evenly
    /// over partitions and keys, as `BenchData` produces them).
    private func shape(_ mode: OrderingMode, concurrency: Int) -> (lanes: Int, perLane: Int) {
        let distinct = mode == .partition ? partitions : mode == .key ? keys : records
        let lanes = min(concurrency, distinct)
        // A lane runs whole partitions or keys: the busiest holds ceil(distinct / lanes) of them.
        let perDistinct = (records + distinct - 1) / distinct
        return (lanes, perDistinct * ((distinct + lanes - 1) / lanes))
    }

    /// The handler alone: `lanes` tasks, each awaiting the latency `perLane` times; records per second.
    private func ideal(_ mode: OrderingMode, concurrency: Int) async -> Double {
        let (lanes, perLane) = shape(mode, concurrency: concurrency)
        let latency = self.latency
        let clock = ContinuousClock()
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<lanes {
                group.addTask { for _ in 0..<perLane { try? await Task.sleep(for: latency) } }
            }
        }
        return Double(lanes * perLane) / (clock.now - start).seconds
    }

    private func worker(mode: OrderingMode, concurrency: Int) async throws -> BenchResult {
        var configuration = WorkerConfiguration(bootstrapServers: contenders.servers, groupID: "", topics: [contenders.topic])
        configuration.consumer = contenders.consumerConfiguration("io-\(mode)-\(concurrency)")
        configuration.ordering = mode
        configuration.maxConcurrency = concurrency
        configuration.deadLetter.enabled = false
        let meter = Meter(target: records)
        let latency = self.latency
        let worker = KafkaWorker(configuration: configuration, decoder: RawRecordDecoder(), logger: contenders.logger,
                                 handler: { _ in
                                     try await Task.sleep(for: latency)
                                     meter.tick()
                                 })
        return try await BenchResult.measured { try await BenchResult.timing(worker, until: meter) }
    }
}
