/// Which of a job's records a publishing node still has to save to the shared store, decided without I/O.
/// Every change asks for a save; one saver at a time writes the newest record, so a save retried through
/// an outage never lands after a newer one (latest wins), and a change is never left unsaved until the
/// next one. `Waiter` is whoever waits for its change to be saved.
struct RecordSaves<Waiter> {
    enum Next: Equatable {
        /// Write the newest record, letting the lease go with it if `release`.
        case save(generation: UInt64, release: Bool)
        /// Everything asked for is saved: the saver stops.
        case idle
    }

    /// Changes asked for, counted: saving the record as it is after the n-th covers every earlier one.
    private var asked: UInt64 = 0
    private var saved: UInt64 = 0
    private var releaseAt: UInt64?
    private var saving = false
    private var waiters: [(generation: UInt64, waiter: Waiter)] = []

    /// A change to save (the last one lets the lease go): its generation, and whether the caller becomes the
    /// saver (nobody is saving now).
    mutating func ask(release: Bool) -> (generation: UInt64, start: Bool) {
        self.asked += 1
        if release { self.releaseAt = self.asked }
        defer { self.saving = true }
        return (self.asked, !self.saving)
    }

    /// `waiter` waits for `generation`; false if it is saved already (nothing to wait for).
    mutating func wait(for generation: UInt64, _ waiter: Waiter) -> Bool {
        guard generation > self.saved else { return false }
        self.waiters.append((generation, waiter))
        return true
    }

    /// What the saver writes next.
    mutating func next() -> Next {
        guard self.saved < self.asked else {
            self.saving = false
            return .idle
        }
        return .save(generation: self.asked, release: self.releaseAt == self.asked)
    }

    /// `generation` is in the store; returns the waiters it satisfies.
    mutating func saved(_ generation: UInt64) -> [Waiter] {
        self.saved = max(self.saved, generation)
        let ready = self.waiters.filter { $0.generation <= self.saved }.map(\.waiter)
        self.waiters.removeAll { $0.generation <= self.saved }
        return ready
    }

    /// The saver gave up (cancelled, or the lease was lost): returns every waiter, to be told why. The next
    /// change asked for starts another saver.
    mutating func stopped() -> [Waiter] {
        self.saving = false
        defer { self.waiters = [] }
        return self.waiters.map(\.waiter)
    }
}
