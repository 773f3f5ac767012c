import Foundation

/// Where a Server-Sent Events watch stands: each announced stream's name and the offset up to which its
/// bytes were sent. It is every event's `id:` (`stdout:123,stderr:45`), so a client that reconnects with
/// `Last-Event-ID` resumes each stream exactly there. Names are free text (file paths of `tail` jobs):
/// they are percent-encoded, so `,` `:` and line breaks cannot occur in them.
struct EventStreamPosition: Hashable, Sendable {
    struct Offset: Hashable, Sendable {
        var name: String
        var offset: UInt64
    }

    private(set) var offsets: [Offset] = []

    init() {}

    /// Parses an id this server wrote; nil for anything else.
    init?(id: String) {
        for item in id.split(separator: ",", omittingEmptySubsequences: true) {
            guard let colon = item.lastIndex(of: ":"), let name = item[..<colon].removingPercentEncoding, !name.isEmpty,
                let offset = UInt64(item[item.index(after: colon)...])
            else { return nil }
            self.set(name, offset)
        }
    }

    mutating func set(_ name: String, _ offset: UInt64) {
        if let index = self.offsets.firstIndex(where: { $0.name == name }) {
            self.offsets[index].offset = offset
        } else {
            self.offsets.append(Offset(name: name, offset: offset))
        }
    }

    /// The position with `name`'s offset left out (as 0, in its place): readers at the same offset of
    /// `name` with equal blanked positions send the same `id:` after its next bytes.
    func blanking(_ name: String) -> EventStreamPosition {
        var blanked = self
        blanked.set(name, 0)
        return blanked
    }

    var id: String {
        self.offsets.map { "\($0.name.addingPercentEncoding(withAllowedCharacters: Self.plain) ?? ""):\($0.offset)" }.joined(separator: ",")
    }

    private static let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
}
