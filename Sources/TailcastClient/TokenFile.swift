import TailcastProtocol

/// A client's token kept in a file (`--token-file`): the whole file is the one token (a final newline
/// is fine), in a file only its owner may read (`SecretFile`).
public enum TokenFile {
    public enum Problem: Error, CustomStringConvertible, Equatable {
        case file(SecretFile.Problem)
        case content(path: String, reason: String)

        public var description: String {
            switch self {
            case .file(let problem): problem.description
            case .content(let path, let reason): "\(path): \(reason)"
            }
        }
    }

    public static func read(_ path: String) throws(Problem) -> String {
        let text: String
        do {
            text = try SecretFile.read(path)
        } catch {
            throw .file(error)
        }
        let token = text.trimmingTrailingNewline
        if token.isEmpty { throw .content(path: path, reason: "the file is empty; it must hold the token") }
        // A '#' is not a comment here: text after it would be sent as part of the token, or, cut
        // off, make a different one. Either way the server would refuse it with a less clear reason.
        if token.contains("#") { throw .content(path: path, reason: "a token cannot contain '#' (the file must hold the token alone, no comments)") }
        if token.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            throw .content(path: path, reason: "the file must hold one token: printable ASCII, no spaces, on one line")
        }
        return token
    }
}

extension String {
    /// By scalars: "\r\n" is one Character, which `hasSuffix("\n")` does not see.
    fileprivate var trimmingTrailingNewline: String {
        var scalars = Substring(self).unicodeScalars
        if scalars.last == "\n" { scalars.removeLast() }
        if scalars.last == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
