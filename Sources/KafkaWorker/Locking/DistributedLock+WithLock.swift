extension DistributedLock {
    /// Runs `body` while holding `name`.
    ///
    /// Takes the lock once (throws ``LockBusy`` when another owner holds it), renews it every third of `lease`
    /// while `body` runs, and releases it afterwards — only if it is still ours. If a renewal finds the lock gone,
    /// or the lock service stays unreachable until the lease would have run out, `body` is cancelled and
    /// ``LockLost`` is thrown (unless `body` finished first).
    public func withLock<Result: Sendable>(
        _ name: String, lease: Duration, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        guard let held = try await tryAcquire(name, lease: lease) else { throw LockBusy(name: name) }
        let outcome: Swift.Result<Result, any Error> = await withTaskGroup(of: LeaseEvent<Result>.self) { group in
            group.addTask {
                do { return .finished(.success(try await body())) } catch { return .finished(.failure(error)) }
            }
            group.addTask { await keepRenewing(held, lease: lease) ? .renewalStopped : .lost }
            while let event = await group.next() {
                switch event {
                case .finished(let result):
                    group.cancelAll()
                    return result
                case .lost:
                    group.cancelAll()
                    // Wait for body to notice the cancellation; its own result no longer counts.
                    while await group.next() != nil {}
                    return .failure(LockLost(name: name))
                case .renewalStopped:
                    continue
                }
            }
            return .failure(CancellationError())
        }
        // Release even when cancelled; a release that fails only means the lease runs out by itself.
        _ = try? await release(held)
        return try outcome.get()
    }

    /// Renews `held` until cancelled (returns `true`) or until the lease is lost (returns `false`).
    private func keepRenewing(_ held: LockLease, lease: Duration) async -> Bool {
        let clock = ContinuousClock()
        var expires = clock.now + lease
        while true {
            do { try await clock.sleep(for: lease / 3) } catch { return true }
            do {
                guard try await renew(held, lease: lease) else { return false }
                expires = clock.now + lease
            } catch {
                if Task.isCancelled { return true }
                // Unreachable: keep trying while the lease may still be ours.
                if clock.now >= expires { return false }
            }
        }
    }
}

private enum LeaseEvent<Result: Sendable>: Sendable {
    case finished(Swift.Result<Result, any Error>)
    case lost
    case renewalStopped
}
