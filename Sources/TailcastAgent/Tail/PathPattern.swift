#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A shell pattern over paths: `*`, `?` and `[...]` within one path segment, `**` across any number of
/// segments. Expands by walking only the directories the pattern can reach.
///
/// Symbolic links are not followed, except in the directories the pattern names before its first
/// wildcard (`/var/log/app` in `/var/log/app/*.log`): those the user chose, and the kernel resolves
/// them on every expansion as the user's path. Whoever may write into a directory the pattern reaches
/// could otherwise plant `app.log -> /etc/shadow` (or a directory link out of it) and have the sidecar
/// send any file it may read. A link the pattern matches, file or directory, is reported in `links`
/// instead (a dangling one when it comes to point somewhere); links under `**` are passed over
/// silently (`**` never followed them).
public struct PathPattern: Sendable {
    public let text: String
    private let absolute: Bool
    private let segments: [String]

    public init(_ text: String) {
        self.text = text
        self.absolute = text.hasPrefix("/")
        self.segments = text.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// Regular files the pattern names now.
    public func files() -> [String] { self.expand().files }

    /// Regular files the pattern names now, the directories where a file it names could appear (those
    /// to watch for changes), and the symbolic links it matched and did not follow.
    public func expand() -> (files: [String], directories: Set<String>, links: [String]) {
        var found = Found()
        self.visit(self.absolute ? "/" : ".", self.segments[...], namedByUser: true, into: &found)
        func clean(_ path: String) -> String { self.absolute || !path.hasPrefix("./") ? path : String(path.dropFirst(2)) }
        return (found.files.map(clean), Set(found.directories.map { $0 == "." ? "." : clean($0) }), found.links.map(clean))
    }

    private struct Found {
        var files: [String] = []
        var directories = Set<String>()
        var links: [String] = []
    }

    /// Whether `path` matches (used for --exclude): the whole path, or its last segment when the
    /// pattern has no slash (`--exclude '*.gz'`).
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        if self.segments.count == 1 && !self.text.contains("/") { return Self.fnmatch(self.segments[0], parts.last ?? "") }
        return Self.match(self.segments[...], parts[...])
    }

    private static func match(_ pattern: ArraySlice<String>, _ parts: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return parts.isEmpty }
        if first == "**" {
            return (0...parts.count).contains { self.match(pattern.dropFirst(), parts.dropFirst($0)) }
        }
        guard let part = parts.first, self.fnmatch(first, part) else { return false }
        return self.match(pattern.dropFirst(), parts.dropFirst())
    }

    private static func fnmatch(_ pattern: String, _ name: String) -> Bool {
        Glibc.fnmatch(pattern, name, 0) == 0
    }

    private static func hasWildcard(_ segment: String) -> Bool {
        segment.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// Looks at `path`, which `rest` continues. `namedByUser`: the pattern spells `path` out before any
    /// wildcard, so a link there to a directory is followed; anything else must be the file or
    /// directory itself.
    private func visit(_ path: String, _ rest: ArraySlice<String>, namedByUser: Bool, into found: inout Found) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard stat(path, &st) == 0 else { return }
            guard namedByUser, !rest.isEmpty else {
                // Reported only where following it would have mattered: a file where the pattern
                // ends, a directory where it goes on.
                if (st.st_mode & S_IFMT) == (rest.isEmpty ? S_IFREG : S_IFDIR) { found.links.append(path) }
                return
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG where rest.isEmpty: found.files.append(path)
        case S_IFDIR where !rest.isEmpty: self.descend(path, rest, namedByUser: namedByUser, into: &found)
        default: return
        }
    }

    /// Matches the next segment in `directory`, which is a directory (a link to one only if the user
    /// named it).
    private func descend(_ directory: String, _ rest: ArraySlice<String>, namedByUser: Bool, into found: inout Found) {
        guard let segment = rest.first else { return }
        func join(_ name: String) -> String { directory == "/" ? "/" + name : directory + "/" + name }
        if rest.count == 1 || segment == "**" || Self.hasWildcard(segment) { found.directories.insert(directory) }
        if segment == "**" {
            self.descend(directory, rest.dropFirst(), namedByUser: false, into: &found)
            for entry in Self.entries(directory) where Self.isDirectory(join(entry)) {
                self.visit(join(entry), rest, namedByUser: false, into: &found)
            }
        } else if Self.hasWildcard(segment) {
            for entry in Self.entries(directory) where Self.fnmatch(segment, entry) {
                self.visit(join(entry), rest.dropFirst(), namedByUser: false, into: &found)
            }
        } else {
            self.visit(join(segment), rest.dropFirst(), namedByUser: namedByUser, into: &found)
        }
    }

    private static func entries(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        // lstat: a symlinked directory is not followed, so a link loop cannot make the walk endless.
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
