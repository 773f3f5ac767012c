import Foundation
import Testing

@testable import TailcastAgent

/// What the tailer does with a file a scan finds, without files: each way a file can be known already,
/// copytruncate's copy, checkpoints by identity and by path, inode reuse, and where reading starts.
@Suite struct FileDiscoveryTests {
    /// `#expect` evaluates its expression inside a closure, where mutating calls cannot go.
    static func expectEqual<T: Equatable>(_ value: T, _ expected: T, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(value == expected, sourceLocation: sourceLocation)
    }

    static let full = String(repeating: "6c", count: FileIdentity.fingerprintLength)

    static func identity(_ fingerprint: String, inode: UInt64 = 7) -> FileIdentity {
        FileIdentity(device: 1, inode: inode, fingerprint: fingerprint)
    }

    static func checkpoint(_ path: String, _ identity: FileIdentity, file: UInt64, stream: UInt64) -> Tailer.Checkpoint {
        Tailer.Checkpoint(path: path, identity: identity, fileOffset: file, streamOffset: stream)
    }

    static func decide(
        _ discovery: inout FileDiscovery, _ identity: FileIdentity, path: String = "/log/new.log", size: UInt64 = 500, quiet: Int = 10,
        atEnd: Bool = false, followed: [FileIdentity] = [], atFollowedPath: Bool = false
    ) -> FileDiscovery.Decision {
        discovery.decide(
            path: path, identity: identity, size: size, quietSeconds: quiet, startsAtEnd: atEnd, followed: followed, atFollowedPath: atFollowedPath)
    }

    @Test func aNewFileIsReadFromItsStartOrOnTheFirstScanFromItsEnd() {
        var discovery = FileDiscovery(restored: [])
        Self.expectEqual(Self.decide(&discovery, Self.identity("61")), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        Self.expectEqual(Self.decide(&discovery, Self.identity("61"), atEnd: true), .follow(fileOffset: 500, streamOffset: 0, resumes: false, checkpoint: nil))
        Self.expectEqual(Self.decide(&discovery, Self.identity(""), size: 0), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))  // empty files count
    }

    @Test func theSameFileUnderAnotherPathIsNotReadTwice() {
        var discovery = FileDiscovery(restored: [])
        // app.log renamed to app.log.1, which the patterns also match
        Self.expectEqual(Self.decide(&discovery, Self.identity("616263"), followed: [Self.identity("61")]), .known)
        // not the same file: another inode, or the same inode with another start (reused)
        Self.expectEqual(Self.decide(&discovery, Self.identity("616263", inode: 8), followed: [Self.identity("61")]), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        Self.expectEqual(Self.decide(&discovery, Self.identity("7a", inode: 7), followed: [Self.identity("61")]), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        // a file let go after its drain is not read again under its new name
        discovery.letGo(Self.identity("61", inode: 9), checkpoint: Self.checkpoint("/log/app.log", Self.identity("61", inode: 9), file: 1, stream: 1))
        Self.expectEqual(Self.decide(&discovery, Self.identity("6162", inode: 9)), .known)
    }

    @Test func copytruncatesCopyIsRecognisedByItsWholeFingerprintAndRememberedAsRead() {
        var discovery = FileDiscovery(restored: [])
        // while the original still holds it (caught before the truncation)
        Self.expectEqual(Self.decide(&discovery, Self.identity(Self.full, inode: 8), followed: [Self.identity(Self.full)]), .copy)
        Self.expectEqual(Self.decide(&discovery, Self.identity(Self.full, inode: 8)), .known)  // remembered
        // after the truncation, from the fingerprint the truncation left behind
        discovery.truncated(copiedFingerprint: Self.full.replacingOccurrences(of: "6c", with: "6d"))
        Self.expectEqual(Self.decide(&discovery, Self.identity(Self.full.replacingOccurrences(of: "6c", with: "6d"), inode: 9)), .copy)
        // a short file with the same content as a short followed one is not taken for a copy
        Self.expectEqual(Self.decide(&discovery, Self.identity("6c0a", inode: 10), followed: [Self.identity("6c0a")]), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
    }

    @Test func aCopyCaughtMidWriteWaitsUntilItIsWholeOrQuiet() {
        var discovery = FileDiscovery(restored: [])
        let followed = [Self.identity(Self.full)]
        let halfCopied = Self.identity(String(Self.full.prefix(600)), inode: 8)
        Self.expectEqual(Self.decide(&discovery, halfCopied, quiet: 0, followed: followed), .decideLater)
        Self.expectEqual(Self.decide(&discovery, halfCopied, quiet: 1, followed: followed), .decideLater)
        Self.expectEqual(Self.decide(&discovery, halfCopied, quiet: 2, followed: followed), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        discovery.truncated(copiedFingerprint: Self.full)
        Self.expectEqual(Self.decide(&discovery, halfCopied, quiet: 0), .decideLater)
        // an empty new file beside a followed one may be copytruncate's copy, created before it is filled
        let empty = Self.identity("", inode: 8)
        Self.expectEqual(Self.decide(&discovery, empty, size: 0, quiet: 0, followed: followed), .decideLater)
        Self.expectEqual(Self.decide(&discovery, empty, size: 0, quiet: 2, followed: followed), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        // at the path of a followed file (rename and create) it is that path's next file, followed at once
        Self.expectEqual(
            Self.decide(&discovery, empty, size: 0, quiet: 0, followed: followed, atFollowedPath: true),
            .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
        // with nothing read anywhere, an empty file is nobody's copy
        var fresh = FileDiscovery(restored: [])
        Self.expectEqual(Self.decide(&fresh, empty, size: 0, quiet: 0, followed: [Self.identity("", inode: 3)]), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
    }

    @Test func aCheckpointOfThisVeryFileResumesItAndIsUsedOnce() {
        let saved = Self.checkpoint("/log/app.log", Self.identity("6c69"), file: 40, stream: 90)
        var discovery = FileDiscovery(restored: [saved])
        // found by identity, whatever its path now, and resumed even on a first scan
        Self.expectEqual(Self.decide(&discovery, Self.identity("6c696e65"), path: "/log/app.log.1", atEnd: true), .follow(fileOffset: 40, streamOffset: 90, resumes: true, checkpoint: saved))
        // kept until the file is followed: a failure in between (a full disk) decides the same again
        #expect(discovery.restored == [saved])
        discovery.recovered(saved)
        #expect(discovery.restored.isEmpty)
        Self.expectEqual(Self.decide(&discovery, Self.identity("6c696e65", inode: 8), path: "/log/app.log"), .follow(fileOffset: 0, streamOffset: 0, resumes: false, checkpoint: nil))
    }

    @Test func aNewFileAtACheckpointedPathContinuesThatPathsStreamFromItsOwnStart() {
        let saved = Self.checkpoint("/log/app.log", Self.identity("6c69"), file: 40, stream: 90)
        var discovery = FileDiscovery(restored: [saved])
        // the inode was reused by another file (logrotate: compress frees one, create takes it)
        Self.expectEqual(Self.decide(&discovery, Self.identity("7a7a"), path: "/log/app.log"), .follow(fileOffset: 0, streamOffset: 90, resumes: false, checkpoint: saved))
        discovery.recovered(saved)
        #expect(discovery.restored.isEmpty)
    }

    @Test func aLetGoFileLeavesOneCheckpointPerPathForTheNextFileThere() {
        var discovery = FileDiscovery(restored: [Self.checkpoint("/log/app.log", Self.identity("61"), file: 1, stream: 1)])
        discovery.letGo(Self.identity("62", inode: 8), checkpoint: Self.checkpoint("/log/app.log", Self.identity("62", inode: 8), file: 5, stream: 30))
        #expect(discovery.restored == [Self.checkpoint("/log/app.log", Self.identity("62", inode: 8), file: 5, stream: 30)])
        Self.expectEqual(Self.decide(&discovery, Self.identity("63", inode: 9), path: "/log/app.log"), .follow(fileOffset: 0, streamOffset: 30, resumes: false, checkpoint: Self.checkpoint("/log/app.log", Self.identity("62", inode: 8), file: 5, stream: 30)))
    }

    @Test func aRecoveredCheckpointIsNotUsedAgain() {
        let saved = Self.checkpoint("/log/app.log", Self.identity("61"), file: 1, stream: 1)
        var discovery = FileDiscovery(restored: [saved, Self.checkpoint("/log/other.log", Self.identity("62", inode: 8), file: 2, stream: 2)])
        discovery.recovered(saved)
        #expect(discovery.restored.map(\.path) == ["/log/other.log"])
    }

    @Test func whatIsRememberedIsBounded() {
        var discovery = FileDiscovery(restored: [])
        for index in 0..<(FileDiscovery.maxCopied + 5) { discovery.truncated(copiedFingerprint: "\(index)") }
        #expect(discovery.copied.count == FileDiscovery.maxCopied && discovery.copied.first == "5")
        for index in 0..<(FileDiscovery.maxFinished + 3) {
            let identity = Self.identity("", inode: UInt64(index))
            discovery.letGo(identity, checkpoint: Self.checkpoint("/log/app.log", identity, file: 0, stream: 0))
        }
        #expect(discovery.finished.count == FileDiscovery.maxFinished && discovery.finished.first?.inode == 3)
    }
}
