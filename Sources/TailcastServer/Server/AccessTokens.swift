import Foundation
import TailcastProtocol

/// Who may do what: tokens with the role `publish` (agents) or `watch` (watchers, `ls`, the HTTP API).
/// With no tokens configured everyone may do everything, which `serve` allows only on loopback.
public struct AccessTokens: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case publish
        case watch
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// No `Authorization: Bearer` header.
        case missing
        /// A token this server does not know.
        case unknown
        /// A known token without the role asked for.
        case forbidden(Role)
    }

    private let tokens: [(role: Role, bytes: [UInt8])]

    public init(_ tokens: [(role: Role, token: String)] = []) {
        self.tokens = tokens.map { ($0.role, Array($0.token.utf8)) }
    }

    public var isEmpty: Bool { self.tokens.isEmpty }

    /// Decides from the request's `Authorization` header. Every configured token is compared, each in
    /// time independent of where the bytes differ, so timing tells nothing about any token.
    public func decide(authorization: String?, for role: Role) -> Decision {
        if self.tokens.isEmpty { return .allowed }
        guard let presented = Self.presentedToken(authorization) else { return .missing }
        var roles: Set<Role> = []
        for (tokenRole, bytes) in self.tokens where Self.constantTimeEqual(presented, bytes) {
            roles.insert(tokenRole)
        }
        if roles.contains(role) { return .allowed }
        return roles.isEmpty ? .unknown : .forbidden(role)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | UInt8(truncatingIfNeeded: (a.count ^ b.count) >> 8)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }

    public enum FileError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case badLine(String, Int, String)
        /// Its group or others may read or write it (`SecretFile`).
        case tooOpen(SecretFile.Problem)
        public var description: String {
            switch self {
            case .unreadable(let path, let why): "cannot read tokens file \(path): \(why)"
            case .badLine(let path, let line, let why): "\(path):\(line): \(why)"
            case .tooOpen(let problem): problem.description
            }
        }
    }

    /// Reads a tokens file: one `ROLE TOKEN` per line (`publish` or `watch`); a comment starts with a
    /// `#` at the start of a line or after a space. A `#` inside a token is an error, not the start of
    /// a comment that would silently cut the token short. Tokens are at least 16 characters: short
    /// ones can be guessed. Only the file's owner may read it (`SecretFile`).
    public static func parse(file path: String) throws(FileError) -> [(role: Role, token: String)] {
        let text: String
        do {
            text = try SecretFile.read(path)
        } catch {
            switch error {
            case .unreadable(_, let reason): throw .unreadable(path, reason)
            case .tooOpen: throw .tooOpen(error)
            }
        }
        var tokens: [(role: Role, token: String)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = Array(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).prefix { !$0.hasPrefix("#") })
            if fields.isEmpty { continue }
            guard fields.count == 2, let role = Role(rawValue: String(fields[0])) else {
                throw .badLine(path, number + 1, "expected \"publish TOKEN\" or \"watch TOKEN\"")
            }
            let token = String(fields[1])
            if token.contains("#") { throw .badLine(path, number + 1, "a token cannot contain '#' (a comment starts with '#' after a space)") }
            if let problem = problem(with: token) { throw .badLine(path, number + 1, problem) }
            tokens.append((role, token))
        }
        return tokens
    }

    /// Why a token cannot be used, or nil.
    public static func problem(with token: String) -> String? {
        if token.utf8.count < 16 { return "a token must be at least 16 characters long" }
        if token.utf8.count > 4096 { return "a token must be at most 4096 characters long" }
        if token.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            return "a token must be printable ASCII without spaces"
        }
        return nil
    }
}
