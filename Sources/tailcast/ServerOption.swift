import ArgumentParser
import Foundation

/// `--server URL` for clients, from TAILCAST_SERVER when not given.
struct ServerOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Server to talk to (env TAILCAST_SERVER).", valueName: "url"))
    var server: String = ProcessInfo.processInfo.environment["TAILCAST_SERVER"] ?? "ws://127.0.0.1:7070"

    func validate() throws {
        guard let url = URL(string: self.server), ["ws", "wss"].contains(url.scheme ?? ""), url.host != nil else {
            throw ValidationError("--server must be a ws:// or wss:// URL, like ws://127.0.0.1:7070 (got \"\(self.server)\")")
        }
    }

    /// The URL without a trailing slash, so paths can be appended.
    var url: String { self.server.hasSuffix("/") ? String(self.server.dropLast()) : self.server }
}

/// Where per-user state lives: $XDG_STATE_HOME, else ~/.local/state (spools, sidecar checkpoints).
func stateHome() -> String {
    let environment = ProcessInfo.processInfo.environment
    return environment["XDG_STATE_HOME"] ?? ((environment["HOME"] ?? NSTemporaryDirectory()) + "/.local/state")
}

/// Messages from tailcast itself go to stderr, prefixed, so they never mix into a job's output.
func notice(_ message: String) {
    FileHandle.standardError.write(Data("tailcast: \(message)\n".utf8))
}

enum Terminal {
    /// Colour only on a terminal, and never when NO_COLOR is set.
    static func wantsColour(_ fd: Int32) -> Bool {
        isatty(fd) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }
}
