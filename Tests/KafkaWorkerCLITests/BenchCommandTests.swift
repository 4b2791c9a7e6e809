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
        #expect(lines[header].contains("records/s") && lines[header].contains("median/s") && lines[header].contains("vs bare"))
        let rows = lines[(header + 1)...]
        for (name, records) in [("bare librdkafka loop", "20000"), ("worker(partition)", "20000"),
                                ("commit per record (source)", "200")] {
            let row = try #require(rows.first { $0.hasPrefix(name) }, "no row for \(name): \(output)")
            let fields = row.dropFirst(name.count).split(separator: " ")
            #expect(fields.count == 5 && fields[0] == Substring(records), "\(row)")
            #expect((Double(fields[2]) ?? 0) > 0, "records/s of \(name): \(row)")
        }
        #expect(!rows.contains { $0.hasPrefix("worker(key)") }, "only the contenders asked for run")
        let perRound = try #require(lines.first { $0.hasPrefix("worker(partition)/bare by round: ") }, "\(output)")
        #expect(perRound.split(separator: " ").count == 7, "two rounds and a median: \(perRound)")
        let last = try #require(lines.last)
        #expect(last.hasPrefix("worker(partition)/bare: "), "\(last)")
        let ratio = try #require(Double(last.dropFirst("worker(partition)/bare: ".count)), "\(last)")
        #expect(ratio > 0)
    }

    @Test("unknown contenders are refused, naming the accepted ones")
    func unknownContender() async throws {
        let (status, output) = try await runKafkaWorker(["bench", "--contenders", "partition,fastest"], withErrors: true)
        #expect(status != 0)
        #expect(output.contains("--contenders: fastest not among bare, consumer, partition, key, unordered, partition-no-headers, source"),
                "\(output)")
    }
}
