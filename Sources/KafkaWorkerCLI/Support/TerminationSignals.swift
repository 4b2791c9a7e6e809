import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as an async sequence: the default handlers are replaced, so the process ends
/// only when the command decides to.
struct TerminationSignals: AsyncSequence, Sendable {
    typealias Element = Int32

    private let stream: AsyncStream<Int32>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        let owned = SignalSources(sources: sources)
        continuation.onTermination = { _ in owned.cancel() }
        self.stream = stream
    }

    func makeAsyncIterator() -> AsyncStream<Int32>.AsyncIterator { stream.makeAsyncIterator() }

    static func name(_ number: Int32) -> String { number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)" }
}

/// Keeps the dispatch sources alive for as long as the stream. `@unchecked Sendable`: the array is
/// never mutated, and cancelling a dispatch source is thread-safe.
private final class SignalSources: @unchecked Sendable {
    let sources: [any DispatchSourceSignal]
    init(sources: [any DispatchSourceSignal]) { self.sources = sources }
    func cancel() { sources.forEach { $0.cancel() } }
}

/// Writes a line to standard output and flushes it, so a reading process sees it at once.
func printLine(_ text: String) {
    print(text)
    fflush(nil)
}
