import TailcastProtocol

/// Decides, without I/O, what an agent's connection may do next: the order of `hello`, `open`, data,
/// `progress` and `end`, and that nothing is accepted once the job's end is stored. The session does
/// the I/O each action names and reports back (`welcomed`, `endStored`). Limits on sizes and counts
/// are here too, so that every refusal of a publisher is decided in one place.
struct PublishStateMachine {
    enum State: Equatable {
        /// Nothing received yet: the first message must be `hello`.
        case awaitingHello
        /// `hello` accepted; waiting for the hub to attach this connection to the job.
        case attaching
        /// Publishing: stream ids this connection opened, by id.
        case publishing(opened: [UInt32: String])
        /// `stop` accepted: the agent goes away and closes; nothing may follow.
        case stopped
        /// `end` accepted and being stored.
        case ending
        /// The job's end is stored (by this connection or an earlier one): nothing more is accepted.
        case ended
        /// A refusal was sent; the connection is closing.
        case closed
    }

    enum Action: Equatable {
        /// Attach to (or create) the job this `hello` names.
        case attach(ControlMessage.Hello)
        /// Open (or continue) the stream `name` as `id` on this connection.
        case openStream(id: UInt32, name: String)
        /// Append these chunks, each to the stream its id names (all of them were opened).
        case append([DataChunk])
        /// Merge these bars into the job's progress.
        case updateProgress([ProgressState])
        /// The agent goes away on purpose: show the job `stopped` once it has closed.
        case markStopped
        /// Make every stream and the exit durable, then acknowledge with `ended: true`.
        case storeEnd(ControlMessage.End)
        /// Send an `error` with this code and close.
        case refuse(ErrorCode, String)
    }

    struct Limits: Equatable {
        var maxStreamsPerJob: Int
        var maxJobBytes: UInt64
    }

    private(set) var state: State = .awaitingHello
    let limits: Limits

    init(limits: Limits) {
        self.limits = limits
    }

    /// A control message arrived. `heldSize` says how many bytes the server holds of an opened stream,
    /// `streamCount` how many streams the job has, `streamNameBytes` their names' length together,
    /// `hasStream` whether it has one of that name.
    mutating func received(
        _ message: ControlMessage, heldSize: (UInt32) -> UInt64? = { _ in nil }, streamCount: Int = 0, streamNameBytes: Int = 0,
        hasStream: (String) -> Bool = { _ in false }
    ) -> Action {
        switch (self.state, message) {
        case (.awaitingHello, .hello(let hello)):
            if let problem = JobID.problem(with: hello.job) { return self.refuse(.badMessage, problem) }
            if let problem = hello.meta.formProblem { return self.refuse(.badMessage, problem) }
            if let problem = JobMeta.problem(with: hello.meta, agent: hello.agent) { return self.refuse(.limit, problem) }
            self.state = .attaching
            return .attach(hello)
        case (.awaitingHello, _):
            return self.refuse(.badMessage, "the first message must be \"hello\", not \"\(message.typeName)\"")

        case (.ended, .open), (.ended, .progress), (.ended, .end), (.ending, .open), (.ending, .progress), (.ending, .end):
            return self.refuse(.jobEnded, "the job has ended: its exit status is stored, nothing more is accepted")

        case (.publishing(var opened), .open(let open)):
            if let problem = StreamName.problem(with: open.name) { return self.refuse(.badMessage, problem) }
            if let existing = opened[open.stream], existing != open.name {
                return self.refuse(.badMessage, "stream id \(open.stream) is open as another name on this connection")
            }
            // Two ids for one name would merge their bytes into one stream, each id's offsets counting alone.
            if let other = opened.first(where: { $0.value == open.name && $0.key != open.stream }) {
                return self.refuse(.badMessage, "stream name is open as stream id \(other.key) on this connection")
            }
            if !hasStream(open.name) {
                guard streamCount < self.limits.maxStreamsPerJob else {
                    return self.refuse(.limit, "more than \(self.limits.maxStreamsPerJob) streams in one job (serve --max-streams-per-job)")
                }
                guard streamNameBytes + open.name.utf8.count <= StreamName.maxBytesPerJob else {
                    return self.refuse(.limit, "the job's stream names together would pass \(StreamName.maxBytesPerJob) bytes")
                }
            }
            opened[open.stream] = open.name
            self.state = .publishing(opened: opened)
            return .openStream(id: open.stream, name: open.name)

        case (.publishing, .progress(let progress)):
            guard progress.bars.count <= ProgressState.maxBarsPerMessage else {
                return self.refuse(.badMessage, "\"bars\": at most \(ProgressState.maxBarsPerMessage) bars in one \"progress\"")
            }
            for (index, bar) in progress.bars.enumerated() {
                if let problem = bar.problem { return self.refuse(.badMessage, "bars[\(index)]: \(problem)") }
            }
            return .updateProgress(progress.bars)

        case (.publishing, .stop):
            self.state = .stopped
            return .markStopped

        case (.stopped, let other):
            return self.refuse(.badMessage, "nothing may follow \"stop\" (got \"\(other.typeName)\"): close the connection")

        case (.publishing(let opened), .end(let end)):
            if let problem = end.exit.problem { return self.refuse(.badMessage, "\"exit\": \(problem)") }
            for (key, size) in end.sizes.sorted(by: { $0.key < $1.key }) {
                guard let id = UInt32(key), opened[id] != nil else {
                    return self.refuse(.badMessage, "\"sizes\" names stream \(key.prefix(20)), which was not opened on this connection")
                }
                // A size below what is held passes: the server keeps every byte it acknowledged, and an agent
                // delivering a spool it reopened knows nothing of records already released from it.
                guard let held = heldSize(id), held >= size else {
                    return self.refuse(.gap, "\"sizes\" names size \(size) for stream \(id), which the server does not hold: send every byte before \"end\"")
                }
            }
            if let missing = opened.keys.sorted().first(where: { end.sizes[String($0)] == nil }) {
                return self.refuse(.badMessage, "\"sizes\" must name every stream opened on this connection; stream \(missing) is missing")
            }
            self.state = .ending
            return .storeEnd(end)

        case (_, let other):
            return self.refuse(.badMessage, "an agent may not send \"\(other.typeName)\" here")
        }
    }

    /// A data message arrived with these chunks; `jobBytes` is what the job holds now.
    mutating func received(chunks: [DataChunk], jobBytes: UInt64) -> Action {
        switch self.state {
        case .publishing(let opened):
            for chunk in chunks where opened[chunk.stream] == nil {
                return self.refuse(.badMessage, "data for stream \(chunk.stream), which was not opened")
            }
            let incoming = chunks.reduce(UInt64(0)) { $0 + UInt64($1.bytes.readableBytes) }
            if jobBytes + incoming > self.limits.maxJobBytes {
                return self.refuse(.limit, "the job would pass its limit of \(self.limits.maxJobBytes) bytes (serve --max-job-bytes)")
            }
            return .append(chunks)
        case .ended, .ending:
            return self.refuse(.jobEnded, "the job has ended: its exit status is stored, nothing more is accepted")
        case .stopped:
            return self.refuse(.badMessage, "nothing may follow \"stop\" (got data): close the connection")
        case .awaitingHello, .attaching, .closed:
            return self.refuse(.badMessage, "data before \"welcome\"")
        }
    }

    /// The hub attached this connection; `ended` when the job's end was stored before.
    mutating func welcomed(ended: Bool) {
        guard self.state == .attaching else { return }
        self.state = ended ? .ended : .publishing(opened: [:])
    }

    /// The end is durable and acknowledged.
    mutating func endStored() {
        if self.state == .ending { self.state = .ended }
    }

    private mutating func refuse(_ code: ErrorCode, _ message: String) -> Action {
        self.state = .closed
        return .refuse(code, message)
    }
}
