import KafkaWorker

extension SQLiteIdempotencyStore {
    /// What the store has committed since it was created.
    public struct Statistics: Sendable, Equatable {
        /// COMMITs that returned.
        public var transactions = 0
        /// Calls that were committed (in those transactions).
        public var committedCalls = 0
        /// Calls that threw: their savepoint was rolled back, or their group's transaction failed.
        public var failedCalls = 0
    }

    /// A snapshot of the store's counters (transactions ÷ committed calls shows how well group commit groups).
    public var statistics: Statistics { counters.withLock { $0 } }

    /// Runs `work` holding the connection, inside a savepoint of the group's transaction (begun if none is open),
    /// and returns once that transaction committed. `work` throwing rolls back to its savepoint and is rethrown;
    /// a COMMIT that fails, or a transaction SQLite rolled back on its own, fails every call of the group.
    func inGroup<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        guard await takeTurn() else {
            counters.withLock { $0.failedCalls += 1 }
            throw TransientStoreError(reason: "SQLite could not begin a transaction for the calls waiting (busy past the busy timeout, "
                                          + "or not writable); retried")
        }
        let outcome: Result<T, any Error>
        var lost = false
        do {
            try await perform { connection in
                if !self.group.withLock({ $0.isOpen }) {
                    try connection.execute("BEGIN IMMEDIATE")
                    self.group.withLock { $0.began() }
                }
                try connection.execute("SAVEPOINT kw_call")
            }
            do {
                let value = try await work()
                lost = try await perform { connection in
                    guard !connection.isAutocommit else { return true }
                    try connection.execute("RELEASE kw_call")
                    return false
                }
                outcome = lost ? .failure(Self.lostTransaction) : .success(value)
            } catch {
                lost = (try? await perform { self.rollbackCall(on: $0) }) ?? true
                outcome = .failure(error)
            }
        } catch {
            // BEGIN or SAVEPOINT failed (busy past the timeout, disk): the transaction is either not open or gone.
            // Without one, the calls waiting fail now rather than each wait the busy timeout in turn.
            let dropped = group.withLock { $0.isOpen ? [] : $0.dropWaiters() }
            for waiter in dropped { waiter.resume(returning: false) }
            lost = (try? await perform { connection in
                guard self.group.withLock({ $0.isOpen }) else { return false }
                return self.rollbackCall(on: connection)
            }) ?? true
            outcome = .failure(error)
        }
        if lost {
            if case .failure(let error) = outcome { try failGroup(own: error) }
            try failGroup(own: nil)
        }
        guard case .success(let value) = outcome else {
            counters.withLock { $0.failedCalls += 1 }
            switch group.withLock({ $0.finished(nil) }) {
            case .handOff(let next): next.resume(returning: true)
            case .commit: try? await commitGroup(withCaller: false)
            }
            return try outcome.get()
        }
        let committedByAnother = try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<Bool, any Error>) in
            switch group.withLock({ $0.finished(waiting) }) {
            case .handOff(let next):
                next.resume(returning: true)
            case .commit:
                waiting.resume(returning: false)
            }
        }
        if !committedByAnother { try await commitGroup(withCaller: true) }
        return value
    }

    /// Waits until this call holds the connection: `true`; `false` when the holder before it could not begin a
    /// transaction (the call fails without trying).
    private func takeTurn() async -> Bool {
        await withCheckedContinuation { (turn: CheckedContinuation<Bool, Never>) in
            if group.withLock({ $0.arrive(turn) }) { turn.resume(returning: true) }
        }
    }

    /// The holder ends the group: COMMIT (when a transaction is open), then the waiting calls learn the outcome and
    /// the turn passes on. Throws the COMMIT's error, which every call of the group gets too. `withCaller`: the
    /// holder itself succeeded and is part of the group.
    private func commitGroup(withCaller: Bool) async throws {
        var result: Result<Void, any Error> = .success(())
        let open = group.withLock { $0.isOpen }
        if open {
            do {
                try await perform { connection in
                    do {
                        try connection.execute("COMMIT")
                    } catch {
                        self.rollback(connection)
                        throw error
                    }
                }
            } catch {
                result = .failure(error)
            }
        }
        let (pending, next) = group.withLock { $0.ended() }
        let calls = pending.count + (withCaller ? 1 : 0)
        counters.withLock { counters in
            switch result {
            case .success:
                if open { counters.transactions += 1 }
                counters.committedCalls += calls
            case .failure:
                counters.failedCalls += calls
            }
        }
        for call in pending { call.resume(with: result.map { true }) }
        next?.resume(returning: true)
        try result.get()
    }

    /// The group's transaction is gone (SQLite rolled it back after an I/O error or a full disk, or the connection
    /// had to be closed): the calls waiting for its COMMIT fail with `failure` — nothing of theirs was kept, so
    /// they are retried — and this call throws its own error, or that one if it had none.
    private func failGroup(own: (any Error)?) throws -> Never {
        let (pending, next) = group.withLock { $0.ended() }
        counters.withLock { $0.failedCalls += pending.count + 1 }
        for call in pending { call.resume(throwing: Self.lostTransaction) }
        next?.resume(returning: true)
        throw own ?? Self.lostTransaction
    }

    /// Rolls the holder's savepoint back; returns whether the group's transaction is gone (rolled back by SQLite,
    /// or the connection closed because the rollback itself failed).
    private func rollbackCall(on connection: SQLiteConnection) -> Bool {
        if connection.isAutocommit { return true }
        do {
            try connection.execute("ROLLBACK TO kw_call")
            try connection.execute("RELEASE kw_call")
            return false
        } catch {
            rollback(connection)
            dropConnection()
            return true
        }
    }

    static var lostTransaction: TransientStoreError {
        TransientStoreError(reason: "SQLite rolled back the group's transaction after an error of another call; retried")
    }
}
