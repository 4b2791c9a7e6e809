import Foundation
@testable import KafkaClient
import Testing

@Suite("The librdkafka loaded at run time")
struct LibraryVersionTests {
    /// `./scripts/test` runs the suite once per librdkafka and says which one each run must find loaded: a run that
    /// silently fell back to the system's library would prove nothing about the other.
    @Test("is the one the test run asked for (KAFKA_WORKER_TEST_RDKAFKA)",
          .enabled(if: ProcessInfo.processInfo.environment["KAFKA_WORKER_TEST_RDKAFKA"].map { !$0.isEmpty } ?? false,
                   "only ./scripts/test says which librdkafka a run must load"))
    func loadedVersionIsTheTiers() throws {
        let wanted = try #require(ProcessInfo.processInfo.environment["KAFKA_WORKER_TEST_RDKAFKA"])
        #expect(KafkaLibrary.version == wanted || KafkaLibrary.version.hasPrefix(wanted + "."),
                "loaded librdkafka \(KafkaLibrary.version), the run asked for \(wanted)")
    }

    @Test("version numbers compare as librdkafka encodes them")
    func versionComparison() {
        #expect(KafkaLibrary.encoded(2, 0, 2) == 0x0200_0200)
        #expect(KafkaLibrary.encoded(2, 12, 0) == 0x020C_0000)
        // Releases end in 0xff: 2.12.0 itself is at least 2.12.0, 2.11.9 is not.
        #expect(0x020C_00FF >= KafkaLibrary.encoded(2, 12, 0))
        #expect(0x020B_09FF < KafkaLibrary.encoded(2, 12, 0))
        #expect(KafkaLibrary.isAtLeast(2, 0))
        #expect(!KafkaLibrary.isAtLeast(99, 0))
        #expect(KafkaConsumerConfiguration.versionText(0x0210_02FF) == "2.16.2")
    }
}
