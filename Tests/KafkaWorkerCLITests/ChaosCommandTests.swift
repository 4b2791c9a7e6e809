import Foundation
import KafkaWorkerTesting
import Testing

/// `kafka-worker chaos` end to end on the embedded cluster: a small run passes, and runs with a deliberately broken
/// worker fail with the violation named — so a PASS of the short tier in ./scripts/test means something.
@Suite("kafka-worker chaos", .timeLimit(.minutes(4)))
struct ChaosCommandTests {
    static func chaos(_ arguments: [String]) async throws -> ExternalTool.Output {
        try await ExternalTool(path: kafkaWorkerBinary.path).run(["chaos"] + arguments, within: .seconds(200))
    }

    static let small = ["--records", "600", "--partitions", "3", "--keys", "20", "--workers", "2", "--duration", "12s",
                        "--fault-interval", "5s", "--faults", "kill,term,errors", "--drain-timeout", "60s",
                        "--log-level", "critical"]

    @Test("the same seed prints the same schedule; a fault that cannot apply is refused, naming why")
    func scheduleAndValidation() async throws {
        let a = try await Self.chaos(["--dry-run", "--seed", "9"]), b = try await Self.chaos(["--dry-run", "--seed", "9"])
        let c = try await Self.chaos(["--dry-run", "--seed", "10"])
        #expect(a.status == 0 && a.standardOutput == b.standardOutput)
        #expect(a.standardOutput != c.standardOutput)
        #expect(a.standardOutput.contains("fault schedule:") && a.standardOutput.contains("kill"))
        let refused = try await Self.chaos(["--dry-run", "--faults", "broker", "--bootstrap-servers", "127.0.0.1:1"])
        #expect(refused.status != 0)
        let postgres = try await Self.chaos(["--dry-run", "--faults", "postgres"])
        #expect(postgres.status != 0)
    }

    @Test("a small run under kills, graceful restarts and request errors passes")
    func smallRunPasses() async throws {
        let output = try await Self.chaos(Self.small + ["--seed", "5"])
        let verdict = output.standardOutput.split(separator: "\n").last { $0.hasPrefix("chaos: ") } ?? ""
        #expect(output.status == 0, "\(output.standardOutput.suffix(3_000))")
        #expect(verdict.hasPrefix("chaos: lost 0, duplicate 0, reordered 0,") && verdict.hasSuffix("PASS"))
        // The faults really happened: the table counts only the ones applied.
        let faults = output.standardOutput.split(separator: "\n").first { $0.contains("faults applied") } ?? ""
        #expect(faults.contains("kill") || faults.contains("term"), "\(faults)")
    }

    @Test("the checker bites: a worker that applies some orders twice, or drops them, fails the run", arguments: ["duplicate", "lose"])
    func sabotage(_ kind: String) async throws {
        let output = try await Self.chaos(Self.small + ["--seed", "6", "--sabotage", kind])
        let verdict = output.standardOutput.split(separator: "\n").last { $0.hasPrefix("chaos: ") } ?? ""
        #expect(output.status == 1, "\(output.standardOutput.suffix(2_000))")
        #expect(verdict.hasSuffix("FAIL"))
        #expect(verdict.contains(kind == "duplicate" ? "duplicate 0" : "lost 0") == false, "\(verdict)")
    }
}
