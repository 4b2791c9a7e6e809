import Foundation
import KafkaWorker
import Logging

/// SIGINT/SIGTERM for a worker: the first stops it gracefully (drain, commit, leave the group), a second
/// one forces a fast stop (nothing unfinished is committed).
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
            } else {
                logger.warning("forced shutdown", metadata: ["signal": "\(TerminationSignals.name(signal))"])
                worker.stop(force: true)
                // A handler that ignores cancellation cannot be stopped from inside the process.
                try? await Task.sleep(for: .seconds(10))
                if !worker.isStopped {
                    logger.critical("a handler ignores cancellation; exiting without it")
                    exit(2)
                }
                return
            }
        }
    }
}
