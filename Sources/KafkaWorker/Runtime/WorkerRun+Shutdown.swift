import KafkaClient

extension WorkerRun {
    /// Marks the run as stopping at once, on the caller's thread: once `stop()` has returned, lanes only start
    /// records below their partition's highest finished one (the drain), and none at all when `halting` (a forced
    /// stop). The coordinator below is a task that may run a little later; a lane with a chunk of quick records
    /// could otherwise run through it meanwhile. Idempotent.
    func beginStop(halting: Bool = false) {
        schedule { state in
            revocations.add(1, ordering: .relaxed)
            return ((), halting ? state.halt() : state.stop())
        }
        runner.wakeup.fire()
    }

    /// Waits for a stop request, then: stop intake and fetching, drain up to the grace period (at once when forced)
    /// — records running finish, and queued records below each partition's highest finished one run, so the commit
    /// covers all finished work — then commit, close the consumer (revoke hook, leave the group). Records abandoned
    /// along the way are not committed; finished ones still above the commit (grace period over) are counted.
    func coordinateShutdown() async {
        await stopRequested.wait()
        events.emit(WorkerEvent(kind: .shutdown, message: "stopping: intake stopped, draining in-flight records"))
        beginStop()
        consumer.pause(consumer.assignment)

        // Lanes finish what runs and the queued records below each partition's highest finished one (lowest first).
        // Lanes' finished records are handed in as the drain goes (a lane inside a slow record holds some): they
        // raise the drain bound. The drain has `shutdownDrainTimeout` of the grace period; then nothing more starts
        // and the records running have the rest of it.
        let started = ContinuousClock.now
        var drained = await waitUntil(within: min(configuration.shutdownDrainTimeout, configuration.shutdownGracePeriod)) {
            self.flushAllLanes()
            return self.scheduler.withLock { $0.isDrained }
        }
        if !drained {
            schedule { state in ((), state.halt()) }
            runner.wakeup.fire()
            let left = configuration.shutdownGracePeriod - (ContinuousClock.now - started)
            drained = await waitUntil(within: max(left, .zero)) {
                self.flushAllLanes()
                return self.scheduler.withLock { $0.inFlight } == 0
            }
        }
        if !drained {
            let left = scheduler.withLock { $0.inFlight }
            logger.warning("shutdown grace period over; abandoning records still running (not committed)",
                           metadata: [LogKey.inFlight: "\(left)"])
        }
        schedule { state in ((), state.halt()) }
        runner.wakeup.fire()
        flushAllLanes()
        let (offsets, above) = scheduler.withLock { ($0.committableOffsets, $0.finishedAboveCommit) }
        await commit(offsets)
        await consumer.close()
        finishLaneStarts()
        let totals = metrics.snapshot
        events.emit(WorkerEvent(kind: .shutdown, message: "stopped: \(totals.processed) processed, "
                                    + "\(totals.deadLettered) dead-lettered, \(totals.failed) failed attempts"
                                    + (above > 0 ? "; \(above) finished records lie above the commit and will be delivered again" : "")))
    }
}
