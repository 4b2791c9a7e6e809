import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as an async sequence: the default handlers are replaced, so the process ends
/// only when the command decides to.
///
/// A signal handler of our own writes the signal number to a pipe (the self-pipe trick; `write` is
/// async-signal-safe) and a thread of our own reads it. It works whichever thread the kernel picks: a dispatch
/// signal source on Linux reads a signalfd, which only sees a signal blocked in the thread it is sent to — a
/// thread that has it unblocked takes it and the source never fires, and the process ignored SIGINT for good.
/// The reader thread keeps both signals unblocked, so there is always a thread to take them.
struct TerminationSignals: AsyncSequence, Sendable {
    typealias Element = Int32

    private let stream: AsyncStream<Int32>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        SignalPipe.shared.subscribe(continuation)
        self.stream = stream
    }

    func makeAsyncIterator() -> AsyncStream<Int32>.AsyncIterator { stream.makeAsyncIterator() }

    /// Takes over SIGINT and SIGTERM now (first thing in `main`): signals that arrive before a command listens are
    /// kept for it, so a stop asked for while starting is a graceful stop, not death by signal.
    static func installEarly() { _ = SignalPipe.shared }

    static func name(_ number: Int32) -> String { number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)" }
}

/// The write end of the signal pipe, read by the signal handler (set once, before the handler is installed).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Installed once per process; every signal goes to the newest subscriber.
private final class SignalPipe: Sendable {
    static let shared = SignalPipe()
    private let subscriber = Mutex<(continuation: AsyncStream<Int32>.Continuation?, early: [Int32])>((nil, []))

    private init() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { fatalError("cannot create the signal pipe: errno \(errno)") }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        // A full pipe drops a signal rather than blocking the handler (many signals in a row say the same thing).
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        signalPipeWriteEnd = ends[1]
        let readEnd = ends[0]
        let thread = Thread { [self] in self.readLoop(readEnd) }
        thread.name = "kafka-worker-signals"
        thread.start()
        for number in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = { number in
                let saved = errno  // the interrupted code may be about to read it
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
            #else
            action.__sigaction_u.__sa_handler = { number in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
                errno = saved
            }
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
    }

    func subscribe(_ continuation: AsyncStream<Int32>.Continuation) {
        continuation.onTermination = { [self] _ in subscriber.withLock { $0.continuation = nil } }
        let early = subscriber.withLock { state in
            state.continuation = continuation
            defer { state.early = [] }
            return state.early
        }
        for number in early { continuation.yield(number) }
    }

    /// The reader thread: both signals unblocked here, then one byte per signal.
    private func readLoop(_ fd: Int32) {
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        var byte: UInt8 = 0
        // Signals nobody acted on (no command listening, or it stopped listening): the second one ends the process,
        // so a hang before or after the command's own handling can always be interrupted.
        var unheard = 0
        while true {
            let count = read(fd, &byte, 1)
            if count == 1 {
                let continuation = subscriber.withLock { state in
                    if state.continuation == nil { state.early.append(Int32(byte)) }
                    return state.continuation
                }
                var heard = false
                if let continuation, case .enqueued = continuation.yield(Int32(byte)) { heard = true }
                if !heard {
                    unheard += 1
                    if unheard >= 2 { _exit(128 + Int32(byte)) }
                }
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// Writes a line to standard output and flushes it, so a reading process sees it at once.
func printLine(_ text: String) {
    print(text)
    fflush(nil)
}
