@testable import KafkaWorkerSQLite
import KafkaWorkerTesting
import Testing

/// Random operation sequences against `GroupCommitState` and a reference of what group commit must do: one
/// holder at a time, turns in arrival order, at most `limit` calls per transaction, and every call told exactly
/// once — "committed" exactly when it succeeded inside a transaction whose COMMIT succeeded.
@Suite("Group commit's state machine against a reference model")
struct GroupCommitStateModelTests {
    @Test("2,000 seeds of 300 steps", arguments: [1, 2, 3, 100])
    func randomSchedules(limit: Int) {
        for seed in 0..<500 as Range<UInt64> {
            var random = SplitMix(seed: seed &* 7_919 &+ UInt64(limit))
            run(limit: limit, random: &random, seed: seed)
        }
    }

    private func run(limit: Int, random: inout SplitMix, seed: UInt64) {
        var state = GroupCommitState<Int, Int>(limit: limit)
        var nextID = 0
        var holder: Int?
        var arrivalOrder: [Int] = []          // calls waiting, in arrival order (the reference queue)
        var inTransaction: [Int] = []         // calls that succeeded in the open transaction (reference)
        var membersInTransaction = 0
        var outcome: [Int: String] = [:]      // what each call was told
        var turns: [Int] = []                 // the order in which calls got the turn
        var dropped: Set<Int> = []            // calls failed without a turn (their holder could not begin)

        func tell(_ call: Int, _ what: String) {
            #expect(outcome[call] == nil, "seed \(seed): call \(call) told twice (\(outcome[call]!), \(what))")
            outcome[call] = what
        }
        func give(_ next: Int?) {
            holder = next
            if let next {
                #expect(next == arrivalOrder.first, "seed \(seed): the turn went to \(next), first waiting was \(arrivalOrder.first ?? -1)")
                arrivalOrder.removeFirst()
                turns.append(next)
            }
        }
        func end(committed: Bool) {
            let (pending, next) = state.ended()
            #expect(Set(pending) == Set(inTransaction.filter { $0 != holder }), "seed \(seed): pending \(pending) vs \(inTransaction)")
            for call in pending { tell(call, committed ? "committed" : "failed") }
            if let holder, inTransaction.contains(holder) { tell(holder, committed ? "committed" : "failed") }
            inTransaction = []
            membersInTransaction = 0
            give(next)
            #expect(state.held == (holder != nil))
        }

        for _ in 0..<300 {
            switch random.next() % 6 {
            case 0, 1:
                let call = nextID
                nextID += 1
                if state.arrive(call) {
                    #expect(holder == nil, "seed \(seed): two holders")
                    holder = call
                    turns.append(call)
                } else {
                    #expect(holder != nil, "seed \(seed): a call waits while nobody holds the turn")
                    arrivalOrder.append(call)
                }
            case 2, 3, 4:
                guard let current = holder else { continue }
                if !state.isOpen {
                    if random.next() % 8 == 0 {
                        // BEGIN failed: the call fails, every call waiting fails with it, the turn passes on (to
                        // whoever arrives next).
                        for call in state.dropWaiters() {
                            tell(call, "failed")
                            dropped.insert(call)
                        }
                        #expect(Set(arrivalOrder).isSubset(of: dropped), "seed \(seed): a waiting call was not dropped")
                        arrivalOrder.removeAll()
                        tell(current, "failed")
                        #expect(state.finished(nil).isCommit)
                        end(committed: false)
                        continue
                    }
                    state.began()
                }
                let fate = random.next() % 8
                if fate == 0 {
                    // The transaction was found gone: everything in it fails, the turn passes on.
                    tell(current, "failed")
                    inTransaction.removeAll { $0 == current }
                    end(committed: false)
                    continue
                }
                let succeeded = fate != 1
                if !succeeded { tell(current, "failed") }
                membersInTransaction += 1
                if succeeded { inTransaction.append(current) }
                switch state.finished(succeeded ? current : nil) {
                case .handOff(let next):
                    #expect(!arrivalOrder.isEmpty && membersInTransaction < limit, "seed \(seed): handed off with the group full or nobody waiting")
                    give(next)
                case .commit:
                    #expect(arrivalOrder.isEmpty || membersInTransaction >= limit, "seed \(seed): committed while the group had room and a call waited")
                    end(committed: random.next() % 5 != 0)
                }
                #expect(membersInTransaction <= limit)
            default:
                continue
            }
        }
        // Drain: every holder finishes successfully until nobody is left; every call is told exactly once.
        while let current = holder {
            if !state.isOpen { state.began() }
            membersInTransaction += 1
            inTransaction.append(current)
            switch state.finished(current) {
            case .handOff(let next): give(next)
            case .commit: end(committed: true)
            }
        }
        #expect(outcome.count == nextID, "seed \(seed): \(nextID - outcome.count) calls never told")
        #expect(turns == (0..<nextID).filter { !dropped.contains($0) }, "seed \(seed): turns out of arrival order")
        #expect(!state.held && state.waiting == 0)
    }
}

extension GroupCommitState.Next {
    var isCommit: Bool {
        if case .commit = self { return true }
        return false
    }
}
