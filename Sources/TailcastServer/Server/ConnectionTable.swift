/// The server's TCP connections, counted when accepted: decisions only (`AcceptGate` shares it between
/// event loops and closes what it says).
///
/// A full table makes room by evicting the oldest connection that has not finished its request head: a
/// real client sends its head within a round trip, so under a flood of silent or trickling connections
/// the attacker's own oldest connections make way, and agents, watchers and HTTP requests still get in.
/// A table full of connections past their head (WebSocket sessions, HTTP requests) takes no more.
struct ConnectionTable<Connection> {
    typealias ID = UInt64

    enum Admission {
        case admitted(ID, evicting: Connection?)
        case refused
    }

    let limit: Int
    /// Open connections still waiting for their request head, with what to evict.
    private var waiting: [ID: Connection] = [:]
    /// Open connections past their request head.
    private var pastHead: Set<ID> = []
    private var nextID: ID = 0

    init(limit: Int) {
        precondition(limit >= 1, "a table without places admits nothing")
        self.limit = limit
    }

    var count: Int { self.waiting.count + self.pastHead.count }

    mutating func accept(_ connection: Connection) -> Admission {
        var evicted: Connection?
        if self.count >= self.limit {
            // IDs grow with each accept: the smallest one waiting is the oldest.
            guard let oldest = self.waiting.keys.min() else { return .refused }
            evicted = self.waiting.removeValue(forKey: oldest)
        }
        let id = self.nextID
        self.nextID += 1
        self.waiting[id] = connection
        return .admitted(id, evicting: evicted)
    }

    /// The connection's request head is complete: it is no longer evicted to make room.
    mutating func headComplete(_ id: ID) {
        if self.waiting.removeValue(forKey: id) != nil { self.pastHead.insert(id) }
    }

    /// The connection closed (or was evicted already: then nothing changes).
    mutating func closed(_ id: ID) {
        self.waiting.removeValue(forKey: id)
        self.pastHead.remove(id)
    }
}
