/// Which stream files the archive keeps open: at most `capacity`, the least recently used closed first.
/// A file in use (checked out, between `checkOut` and `checkIn`) is never closed: while every open file
/// is in use the count may pass `capacity` for a moment, and shrinks again at the next `checkIn`. A
/// pinned file (one with bytes written but not yet synced: its publisher is live) is closed only when
/// no unpinned file can be. Decisions only; the caller does the closing.
struct OpenFilePolicy<Key: Hashable> {
    enum Action: Equatable {
        case none
        /// Close these now; they are idle and no longer counted as open.
        case close([Key])
    }

    struct Entry {
        var users: Int
        var pinned: Bool
        var lastUsed: UInt64
        /// Its file is gone (its job was deleted): closed as soon as no caller uses it.
        var forgotten = false
    }

    let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity >= 1, "an archive with no open file cannot read or write")
        self.capacity = capacity
    }

    var openCount: Int { self.entries.count }

    func isOpen(_ key: Key) -> Bool { self.entries[key] != nil }

    /// `key` is about to be used (and opened, if it is not).
    mutating func checkOut(_ key: Key) -> Action {
        self.clock += 1
        self.entries[key, default: Entry(users: 0, pinned: false, lastUsed: 0)].users += 1
        self.entries[key]!.lastUsed = self.clock
        return self.shrink()
    }

    /// `key` is no longer used by one caller; `pinned` says whether it should preferably stay open.
    mutating func checkIn(_ key: Key, pinned: Bool) -> Action {
        guard var entry = self.entries[key], entry.users > 0 else {
            preconditionFailure("checkIn without checkOut")
        }
        self.clock += 1
        entry.users -= 1
        entry.pinned = pinned
        entry.lastUsed = self.clock
        if entry.forgotten && entry.users == 0 {
            self.entries.removeValue(forKey: key)
            return .close([key])
        }
        self.entries[key] = entry
        return self.shrink()
    }

    /// `key`'s file is gone: closed now if idle, else at its last `checkIn`.
    mutating func forget(_ key: Key) -> Action {
        guard let entry = self.entries[key] else { return .none }
        if entry.users == 0 {
            self.entries.removeValue(forKey: key)
            return .close([key])
        }
        self.entries[key]!.forgotten = true
        return .none
    }

    private mutating func shrink() -> Action {
        var victims: [Key] = []
        while self.entries.count > self.capacity {
            let idle = self.entries.filter { $0.value.users == 0 }
            guard let victim = idle.min(by: { ($0.value.pinned ? 1 : 0, $0.value.lastUsed) < ($1.value.pinned ? 1 : 0, $1.value.lastUsed) }) else {
                break
            }
            self.entries.removeValue(forKey: victim.key)
            victims.append(victim.key)
        }
        return victims.isEmpty ? .none : .close(victims)
    }
}
