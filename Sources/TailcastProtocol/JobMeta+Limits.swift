extension JobMeta {
    /// Largest value of one metadata field, in bytes of UTF-8 (the command counts as one field: its
    /// arguments together). A 2 MiB command line once made every `ls` too large to answer.
    public static let maxFieldBytes = 8 << 10

    /// What a cut field is cut to: room for "…" within the bound.
    private static let fieldCut = maxFieldBytes - 4

    /// Why this metadata is malformed (a `bad_message`), or nil: `kind` is one of the two there are, and
    /// `pid` is a process id.
    public var formProblem: String? {
        if self.kind != "run" && self.kind != "tail" { return "\"meta.kind\" must be \"run\" or \"tail\"" }
        if let pid = self.pid, pid < 1 { return "\"meta.pid\" must be a process id (1 to 2147483647)" }
        return nil
    }

    /// Why a server refuses this metadata (and the `agent` name beside it) as too large, or nil.
    public static func problem(with meta: JobMeta, agent: String) -> String? {
        let fields: [(String, Int)] = [
            ("meta.kind", meta.kind.utf8.count), ("meta.host", meta.host.utf8.count), ("meta.user", meta.user.utf8.count),
            ("meta.cwd", meta.cwd?.utf8.count ?? 0), ("meta.command", meta.command.reduce(0) { $0 + $1.utf8.count + 1 }),
            ("agent", agent.utf8.count),
        ]
        for (name, size) in fields where size > Self.maxFieldBytes {
            return "\"\(name)\" is \(size) bytes; at most \(Self.maxFieldBytes) are accepted"
        }
        return nil
    }

    /// The same metadata cut to fit `maxFieldBytes`: agents send it so that an enormous command line
    /// still gets its job archived. A cut argument ends with "…", and "…" stands for dropped arguments.
    public func fitted() -> JobMeta {
        var meta = self
        meta.host = meta.host.cut(toUTF8Bytes: Self.fieldCut)
        meta.user = meta.user.cut(toUTF8Bytes: Self.fieldCut)
        meta.cwd = meta.cwd.map { $0.cut(toUTF8Bytes: Self.fieldCut) }
        var budget = Self.maxFieldBytes - 8
        var command: [String] = []
        for argument in self.command {
            if argument.utf8.count + 1 <= budget {
                command.append(argument)
                budget -= argument.utf8.count + 1
            } else {
                if budget > 64 { command.append(argument.cut(toUTF8Bytes: budget - 4)) }
                command.append("…")
                break
            }
        }
        meta.command = command
        return meta
    }
}

extension ExitStatus {
    /// Why this is not a valid exit status (exactly one of `code` and `signal`), or nil.
    public var problem: String? {
        switch (self.code, self.signal) {
        case (.some(let code), nil): (0...255).contains(code) ? nil : "\"code\" must be between 0 and 255"
        case (nil, .some(let signal)): (1...127).contains(signal) ? nil : "\"signal\" must be between 1 and 127"
        case (nil, nil): "one of \"code\" and \"signal\" is needed"
        case (.some, .some): "give \"code\" or \"signal\", not both"
        }
    }
}
