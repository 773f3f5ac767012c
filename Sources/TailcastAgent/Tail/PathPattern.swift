#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A shell pattern over paths: `*`, `?` and `[...]` within one path segment, `**` across any number of
/// segments. Expands by walking only the directories the pattern can reach.
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

    /// Regular files the pattern names now, and the directories where a file it names could appear
    /// (those to watch for changes).
    public func expand() -> (files: [String], directories: Set<String>) {
        var found: [String] = []
        var directories = Set<String>()
        self.walk(self.absolute ? "/" : ".", self.segments[...], into: &found, directories: &directories)
        func clean(_ path: String) -> String { self.absolute || !path.hasPrefix("./") ? path : String(path.dropFirst(2)) }
        return (found.map(clean), Set(directories.map { $0 == "." ? "." : clean($0) }))
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

    private func walk(_ directory: String, _ rest: ArraySlice<String>, into found: inout [String], directories: inout Set<String>) {
        func join(_ name: String) -> String { directory == "/" ? "/" + name : directory + "/" + name }
        guard let segment = rest.first else {
            var st = stat()
            if stat(directory, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { found.append(directory) }
            return
        }
        if rest.count == 1 || segment == "**" || Self.hasWildcard(segment) {
            var st = stat()
            if stat(directory, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { directories.insert(directory) }
        }
        if segment == "**" {
            self.walk(directory, rest.dropFirst(), into: &found, directories: &directories)
            for entry in Self.entries(directory) where Self.isDirectory(join(entry)) {
                self.walk(join(entry), rest, into: &found, directories: &directories)
            }
        } else if Self.hasWildcard(segment) {
            for entry in Self.entries(directory) where Self.fnmatch(segment, entry) {
                self.walk(join(entry), rest.dropFirst(), into: &found, directories: &directories)
            }
        } else {
            self.walk(join(segment), rest.dropFirst(), into: &found, directories: &directories)
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
