/// Group commit's bookkeeping, without SQLite: who holds the connection (the turn), who waits for it, and who
/// finished inside the open transaction and waits for its COMMIT.
///
/// Members take the turn one after another (first come, first served); each runs inside a savepoint of the
/// group's one transaction. A member that succeeded does not return: it waits for the COMMIT, which the last
/// member of the group runs — the one that finds nobody waiting, or fills the group. Every method returns what
/// the caller must do (resume whom), so no wake-up is left to a side effect.
struct GroupCommitState<Waiter, Pending> {
    /// Members per transaction at most (1: a transaction per member).
    let limit: Int
    private(set) var held = false
    private(set) var waiters: [Waiter] = []
    private var waiterStart = 0
    /// Members that finished inside the open transaction and wait for its COMMIT.
    private(set) var pending: [Pending] = []
    /// Whether the group's transaction is open (BEGIN returned, no COMMIT or ROLLBACK since).
    private(set) var isOpen = false
    /// Members that took a turn in the open transaction.
    private(set) var members = 0

    init(limit: Int) { self.limit = max(1, limit) }

    var waiting: Int { waiters.count - waiterStart }

    /// A member arrives: `true` when it holds the turn now; otherwise it waits until a `next` names it.
    mutating func arrive(_ waiter: Waiter) -> Bool {
        guard held else {
            held = true
            return true
        }
        waiters.append(waiter)
        return false
    }

    /// The holder's BEGIN returned.
    mutating func began() {
        precondition(held && !isOpen)
        isOpen = true
        members = 0
    }

    /// What the holder does when its part is over.
    enum Next {
        /// Hand the turn to this member; the transaction stays open for it.
        case handOff(Waiter)
        /// Commit the group (or, when no transaction is open, just call `ended`).
        case commit
    }

    /// The holder's part is over: `waiting` is the holder itself when it succeeded (it waits for the COMMIT),
    /// `nil` when it failed (its savepoint was rolled back and it returns at once). While others wait and the
    /// group has room, the turn passes on and the transaction stays open; otherwise the holder commits.
    mutating func finished(_ waiting: Pending?) -> Next {
        precondition(held)
        if isOpen { members += 1 }
        guard isOpen, members < limit, let next = popWaiter() else { return .commit }
        if let waiting { pending.append(waiting) }
        return .handOff(next)
    }

    /// The transaction ended (COMMIT or ROLLBACK returned, or it was found gone): the pending members are told the
    /// outcome, and the turn passes to the next waiter (who begins a new transaction) or is released.
    mutating func ended() -> (pending: [Pending], next: Waiter?) {
        precondition(held)
        let told = pending
        pending = []
        isOpen = false
        members = 0
        let next = popWaiter()
        if next == nil { held = false }
        return (told, next)
    }

    /// The holder could not begin a transaction (the database stayed busy past its timeout, or cannot be written):
    /// every call waiting now is dropped, to fail at once — waiting its turn, each would wait the whole busy timeout
    /// again, one after another. Returns them; the holder keeps the turn (and ends it with `finished`/`ended`).
    mutating func dropWaiters() -> [Waiter] {
        precondition(held && !isOpen)
        let dropped = Array(waiters[waiterStart...])
        waiters = []
        waiterStart = 0
        return dropped
    }

    private mutating func popWaiter() -> Waiter? {
        guard waiterStart < waiters.count else { return nil }
        let next = waiters[waiterStart]
        waiterStart += 1
        if waiterStart > 64, waiterStart * 2 > waiters.count {
            waiters.removeFirst(waiterStart)
            waiterStart = 0
        }
        return next
    }
}
