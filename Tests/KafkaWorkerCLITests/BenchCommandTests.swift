import Foundation
import Testing

@Suite("kafka-worker bench", .timeLimit(.minutes(3)))
struct BenchCommandTests {
    @Test("the table has a row per contender with its ratio, the ratio per round, and the headline last")
    func tableAndHeadline() async throws {
        let (status, output) = try await runKafkaWorker(
            ["bench", "--records", "20000", "--partitions", "4", "--seed-records", "200", "--repeats", "2",
             "--contenders", "partition,source", "--log-level", "error"])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("contender") }, "\(output)")
        #expect(lines[header].contains("records/s") && lines[header].contains("median/s") && lines[header].contains("vs bare")
                    && lines[header].contains("peak MiB"))
        let rows = lines[(header + 1)...]
        for (name, records) in [("bare librdkafka loop", "20000"), ("worker(partition)", "20000"),
                                ("commit per record (source)", "200")] {
            let row = try #require(rows.first { $0.hasPrefix(name) }, "no row for \(name): \(output)")
            let fields = row.dropFirst(name.count).split(separator: " ")
            #expect(fields.count == 6 && fields[0] == Substring(records), "\(row)")
            #expect((Double(fields[2]) ?? 0) > 0, "records/s of \(name): \(row)")
            #expect((Int(fields[5]) ?? 0) > 10, "peak resident MiB of \(name): \(row)")
        }
        #expect(!rows.contains { $0.hasPrefix("worker(key)") }, "only the contenders asked for run")
        let perRound = try #require(lines.first { $0.hasPrefix("worker(partition)/bare by round: ") }, "\(output)")
        #expect(perRound.split(separator: " ").count == 7, "two rounds and a median: \(perRound)")
        let last = try #require(lines.last)
        #expect(last.hasPrefix("worker(partition)/bare: "), "\(last)")
        let ratio = try #require(Double(last.dropFirst("worker(partition)/bare: ".count)), "\(last)")
        #expect(ratio > 0)
    }

    @Test("--handler-latency: a row per mode and concurrency with its bound, the share of it reached, the ideal and peak memory")
    func keyedIO() async throws {
        let (status, output) = try await runKafkaWorker(
            ["bench", "--handler-latency", "2ms", "--records", "3000", "--keys", "100", "--partitions", "4", "--seed-records", "100",
             "--concurrency", "8,32", "--contenders", "key,unordered", "--repeats", "1", "--log-level", "error"])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        for name in ["worker(key)/8", "worker(unordered)/8", "worker(key)/32", "worker(unordered)/32"] {
            let row = try #require(lines.first { $0.hasPrefix(name + " ") }, "no row for \(name): \(output)")
            let fields = row.split(separator: " ").dropFirst().compactMap { Double($0) }
            // records, seconds, records/s, bound/s, of bound, ideal/s, of ideal, peak MiB
            #expect(fields.count == 8, "\(row)")
            guard fields.count == 8 else { continue }
            #expect(fields[0] == 3_000 && fields[2] > 0)
            // 8 lanes at 2 ms: 4,000 records/s at most; with keys, the busiest lane holds 13 of the 100 keys' 30
            // records each: 3,000 records / (390 × 2 ms).
            if name == "worker(unordered)/8" { #expect(fields[3] == 4_000, "\(row)") }
            if name == "worker(key)/8" { #expect(fields[3] == 3_846, "\(row)") }
            #expect(fields[4] > 0.05 && fields[4] <= 1.05, "a share of a bound that cannot be beaten: \(row)")
        }
        #expect(!lines.contains { $0.hasPrefix("worker(partition)") }, "only the modes asked for")
    }

    @Test("--sink sqlite: group commit with the I/O in prepare beats a COMMIT per record with the I/O inside, in one run")
    func sqliteSink() async throws {
        let (status, output) = try await runKafkaWorker(
            ["bench", "--sink", "sqlite", "--handler-latency", "2ms", "--records", "3000", "--seed-records", "300",
             "--partitions", "4", "--concurrency", "32", "--log-level", "error"])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        for name in ["per record, I/O in txn, 1 commit each", "per record, I/O in txn, group", "per record, I/O in prepare, group",
                     "batch, I/O per batch"] {
            #expect(lines.contains { $0.hasPrefix(name) }, "no row for \(name): \(output)")
        }
        let last = try #require(lines.last)
        let prefix = "per record, I/O in prepare, group/1 commit each: "
        #expect(last.hasPrefix(prefix), "\(last)")
        let ratio = try #require(Double(last.dropFirst(prefix.count)), "\(last)")
        // One record at a time at 2 ms + an fsync, against 32 at once sharing COMMITs.
        #expect(ratio > 3, "\(output)")
    }

    @Test("bad keyed-I/O options are refused, naming what is accepted", arguments: [
        (["--handler-latency", "fast"], "--handler-latency \"fast\" is not a duration in 1us ... 10s"),
        (["--handler-latency", "5ms", "--concurrency", "64,x"], "--concurrency \"64,x\" is not a comma-separated list of numbers in 1...10000"),
        (["--sink", "sqlite"], "--sink sqlite needs --handler-latency"),
        (["--handler-latency", "5ms", "--ordering", "random"], "--ordering \"random\" is not one of: partition, key, unordered"),
    ])
    func badKeyedOptions(options: [String], message: String) async throws {
        let (status, output) = try await runKafkaWorker(["bench"] + options, withErrors: true)
        #expect(status != 0)
        #expect(output.contains(message), "\(output)")
    }

    @Test("unknown contenders are refused, naming the accepted ones")
    func unknownContender() async throws {
        let (status, output) = try await runKafkaWorker(["bench", "--contenders", "partition,fastest"], withErrors: true)
        #expect(status != 0)
        #expect(output.contains("--contenders: fastest not among bare, consumer, partition, key, unordered, partition-no-headers, source"),
                "\(output)")
    }
}
