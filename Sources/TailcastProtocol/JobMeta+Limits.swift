extension JobMeta {
    /// Largest value of one metadata field, in bytes of UTF-8 (the command counts as one field: its
    /// arguments together). A 2 MiB command line once made every `ls` too large to answer.
    public static let maxFieldBytes = 8 << 10

    /// Why a server refuses this metadata (and the `agent` name beside it), or nil.
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
        meta.host = Self.cut(meta.host)
        meta.user = Self.cut(meta.user)
        meta.cwd = meta.cwd.map { Self.cut($0) }
        var budget = Self.maxFieldBytes - 8
        var command: [String] = []
        for argument in self.command {
            if argument.utf8.count + 1 <= budget {
                command.append(argument)
                budget -= argument.utf8.count + 1
            } else {
                if budget > 64 { command.append(Self.cut(argument, to: budget - 4)) }
                command.append("…")
                break
            }
        }
        meta.command = command
        return meta
    }

    private static func cut(_ text: String, to limit: Int = maxFieldBytes - 4) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            if used + size > limit - 3 { break }
            result.append(character)
            used += size
        }
        return result + "…"
    }
}

extension ExitStatus {
    /// Why this is not a valid exit status (exactly one of `code` and `signal`), or nil.
    public var problem: String? {
        switch (self.code, self.signal) {
        case (.some, nil): nil
        case (nil, .some(let signal)): (1...127).contains(signal) ? nil : "\"signal\" must be between 1 and 127"
        case (nil, nil): "one of \"code\" and \"signal\" is needed"
        case (.some, .some): "give \"code\" or \"signal\", not both"
        }
    }
}
