import Foundation
import KafkaWorker
import Logging

/// How long a graceful stop may take after the grace period (final commit, leaving the group) before the process
/// exits without it. Whatever the broker does, a signalled process ends within grace period + this.
let closeBound: Duration = .seconds(20)

/// SIGINT/SIGTERM for a worker: the first stops it gracefully (drain, commit, leave the group), a second
/// one forces a fast stop (nothing unfinished is committed). A stop that does not end within the grace period
/// plus ``closeBound`` exits the process (nothing unfinished was committed; the group redelivers it).
func handleTerminationSignals(for worker: KafkaWorker, logger: Logger) -> Task<Void, Never> {
    let signals = TerminationSignals()
    return Task {
        var count = 0
        for await signal in signals {
            count += 1
            if count == 1 {
                logger.notice("graceful shutdown; send the signal again to stop at once",
                              metadata: ["signal": "\(TerminationSignals.name(signal))"])
                worker.stop()
                let bound = worker.configuration.shutdownGracePeriod + closeBound
                // A thread of its own, not a task: the bound must hold even when Swift's few cooperative threads are
                // all busy (a handler that never suspends).
                let limit = bound
                Thread {
                    Thread.sleep(forTimeInterval: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)
                    if !worker.isStopped {
                        logger.critical("the stop did not finish in time; exiting without it",
                                        metadata: ["bound_s": "\(limit.components.seconds)"])
                        ProcessEnd.exit(3, clientsWithin: .zero)
                    }
                }.start()
            } else {
                logger.warning("forced shutdown", metadata: ["signal": "\(TerminationSignals.name(signal))"])
                worker.stop(force: true)
                // A handler that ignores cancellation cannot be stopped from inside the process.
                try? await Task.sleep(for: .seconds(10))
                if !worker.isStopped {
                    logger.critical("a handler ignores cancellation; exiting without it")
                    ProcessEnd.exit(2, clientsWithin: .zero)
                }
                return
            }
        }
    }
}
