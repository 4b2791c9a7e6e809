import KafkaClient
import KafkaWorker

/// Prints progress once a second until every record is finished (handled or dead-lettered).
struct DemoProgress {
    let worker: KafkaWorker
    let total: Int
    private let clock = ContinuousClock()

    /// Final records/s, measured from the first finished record to the last.
    private(set) var throughput = 0

    /// Returns `true` when all records finished, `false` if the worker stopped first.
    mutating func waitForAll(while running: Task<Void, any Error>) async -> Bool {
        var started: ContinuousClock.Instant?
        var last = 0
        var lastPrint = clock.now
        while true {
            let statistics = worker.statistics
            let finished = statistics.processed + statistics.deadLettered
            if started == nil && finished > 0 { started = clock.now }
            if finished >= total {
                let seconds = started.map { (clock.now - $0).seconds } ?? 0
                throughput = seconds > 0 ? Int(Double(finished) / seconds) : finished
                return true
            }
            if finished != last && clock.now - lastPrint >= .seconds(1) {
                printLine("progress: \(finished)/\(total) finished, \(statistics.deadLettered) dead-lettered, "
                          + "\(statistics.duplicatesSkipped) duplicates skipped")
                last = finished
                lastPrint = clock.now
            }
            // Checked often so the throughput figure is not rounded to whole seconds; printed once a second.
            try? await Task.sleep(for: .milliseconds(10))
            if running.isCancelled { return false }
            if worker.isStopped { return false }
        }
    }
}

