import Foundation
import KafkaClient
import KafkaWorkerTesting
import Testing

/// Runs a program with arguments and standard input; returns its standard output. Fails on a non-zero exit.
func run(_ program: String, _ arguments: [String], input: String = "", within limit: Duration = .seconds(30))
    async throws -> String
{
    let path = try #require(executablePath(program), "\(program) is not installed (./scripts/test installs it)")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = try await withDeadline(limit, "\(program) \(arguments.joined(separator: " "))") {
        stdout.fileHandleForReading.readDataToEndOfFile()
    }
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(program) exited with \(process.terminationStatus)")
    return String(decoding: output, as: UTF8.self)
}

func executablePath(_ name: String) -> String? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    return paths.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

@Suite("Interoperability with kcat", .timeLimit(.minutes(2)))
struct InteropTests {
    @Test("kcat produces to the embedded cluster and our consumer reads it")
    func kcatProducesWeConsume() async throws {
        let topic = try KafkaTesting.topic("kcat-in")
        let lines = (0..<20).map { "k\($0):order \($0)" }.joined(separator: "\n") + "\n"
        _ = try await run("kcat", ["-P", "-b", KafkaTesting.shared.bootstrapServersString, "-t", topic, "-K:", "-p", "0"],
                          input: lines)
        let consumer = try KafkaTesting.consumer(subscribedTo: topic)
        let records = try await KafkaTesting.collect(20, from: consumer)
        await consumer.close()
        #expect(records.map(\.keyString) == (0..<20).map { "k\($0)" })
        #expect(records.map(\.valueString) == (0..<20).map { "order \($0)" })
    }

    @Test("our producer writes plain Kafka that kcat reads, headers included")
    func weProduceKcatConsumes() async throws {
        let topic = try KafkaTesting.topic("kcat-out")
        let producer = try KafkaTesting.producer()
        _ = await producer.sendAll((0..<5).map {
            KafkaProducerRecord(topic: topic, key: "k\($0)", value: "v\($0)", headers: [KafkaHeader(name: "n", string: "\($0)")])
        })
        await producer.close()
        let output = try await run("kcat", ["-C", "-b", KafkaTesting.shared.bootstrapServersString, "-t", topic,
                                            "-o", "beginning", "-e", "-q", "-f", "%k=%s %h\\n"])
        #expect(output.split(separator: "\n").map(String.init) == (0..<5).map { "k\($0)=v\($0) n=\($0)" })
    }
}
