import Foundation
import Synchronization

/// The resident set's peak while a contender runs: /proc/self/statm sampled every 10 ms on a thread of its own.
/// Before each contender, freed heap is handed back to the system (malloc_trim), so a contender inherits as little
/// as possible of the one before; the figure includes the process's baseline (code, the embedded cluster).
final class PeakMemory: Sendable {
    private let peak = Atomic<Int>(0)
    private let running = Atomic<Bool>(true)

    private init() {}

    /// Runs `body` and returns its result with the peak resident bytes seen meanwhile (0 where /proc is missing).
    static func measure<T>(_ body: () async throws -> T) async rethrows -> (T, peakBytes: Int) {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
        let sampler = PeakMemory()
        sampler.sample()
        let thread = Thread { sampler.loop() }
        thread.start()
        // The thread ends by itself within 10 ms; nothing waits for it.
        defer { sampler.running.store(false, ordering: .relaxed) }
        let result = try await body()
        sampler.sample()
        return (result, sampler.peak.load(ordering: .relaxed))
    }

    private func loop() {
        while running.load(ordering: .relaxed) {
            sample()
            usleep(10_000)
        }
    }

    private func sample() {
        guard let resident = Self.residentBytes() else { return }
        peak.max(resident, ordering: .relaxed)
    }

    /// The second field of /proc/self/statm (pages) in bytes.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (declared in malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
