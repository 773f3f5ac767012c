import Testing

@testable import TailcastAgent

/// Every decision about one followed file, without files: each phase against each thing the tailer
/// can see, then the sequences rotation and copytruncate produce.
@Suite struct FollowedFileTests {
    /// `#expect` evaluates its expression inside a closure, where mutating calls cannot go.
    static func expectEqual<T: Equatable>(_ value: T, _ expected: T, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(value == expected, sourceLocation: sourceLocation)
    }

    static let start = ContinuousClock.now
    static let full = String(repeating: "ab", count: FileIdentity.fingerprintLength)

    static func identity(_ fingerprint: String, inode: UInt64 = 7, device: UInt64 = 1) -> FileIdentity {
        FileIdentity(device: device, inode: inode, fingerprint: fingerprint)
    }

    static func file(_ fingerprint: String = "6c696e65", at offset: UInt64 = 0, draining: Bool = false) -> FollowedFile {
        let checkpoint = Tailer.Checkpoint(path: "/log/app.log", identity: identity(fingerprint), fileOffset: offset, streamOffset: 50)
        return draining
            ? .rotatedAway(checkpoint, identity: identity(fingerprint), now: start)
            : FollowedFile(path: "/log/app.log", identity: identity(fingerprint), fileOffset: offset, streamOffset: 50, now: start)
    }

    static func seen(_ size: UInt64, modified: Int = 100) -> FollowedFile.Seen {
        FollowedFile.Seen(size: size, modifiedSeconds: modified, modifiedNanoseconds: 0)
    }

    enum PathNow: CaseIterable { case sameFile, otherInode, otherDevice, nothing }

    @Test(arguments: [false, true], PathNow.allCases)
    func aPathThatNamesAnotherFileOrNoneStartsTheDrainAndADrainNeverEnds(draining: Bool, path: PathNow) {
        var file = Self.file(draining: draining)
        let found: (device: UInt64, inode: UInt64)? =
            switch path {
            case .sameFile: (1, 7)
            case .otherInode: (1, 8)
            case .otherDevice: (2, 7)
            case .nothing: nil
            }
        file.pathNow(names: found)
        #expect(file.phase == (draining || path != .sameFile ? .draining : .current))
    }

    @Test func aFileIsReadUntilItsSizeAndTimeAreThoseOfTheLastReadAndItWasReadToTheEnd() {
        var file = Self.file(at: 10)
        Self.expectEqual(file.looked(at: Self.seen(10), identity: Self.identity("6c696e65")), .read)  // never looked at
        Self.expectEqual(file.looked(at: Self.seen(10), identity: Self.identity("6c696e65")), .unchanged)
        Self.expectEqual(file.looked(at: Self.seen(10, modified: 101), identity: Self.identity("6c696e65")), .read)  // touched
        file.read(5, now: Self.start + .seconds(1))
        #expect(file.readOffset == 15 && file.lastGrowth == Self.start + .seconds(1))
        // not read to the end (the read buffer was full): read again even though nothing changed
        Self.expectEqual(file.looked(at: Self.seen(20, modified: 102), identity: Self.identity("6c696e65")), .read)
        Self.expectEqual(file.looked(at: Self.seen(20, modified: 102), identity: Self.identity("6c696e65")), .read)
        file.read(5, now: Self.start + .seconds(2))
        Self.expectEqual(file.looked(at: Self.seen(20, modified: 102), identity: Self.identity("6c696e65")), .unchanged)
    }

    @Test func aLongerFingerprintIsLearnedByTheCheckpointSoALaterFileOnTheSameInodeIsNotTakenForIt() {
        var file = Self.file("", at: 0)  // opened while empty
        Self.expectEqual(file.looked(at: Self.seen(4), identity: Self.identity("6c696e65")), .read)
        #expect(file.identity.fingerprint == "6c696e65" && file.checkpoint.identity.fingerprint == "6c696e65")
        // a head shorter than the one known: emptied between the stat and the read of the head
        file.read(4, now: Self.start)
        Self.expectEqual(file.looked(at: Self.seen(4, modified: 101), identity: Self.identity("6c69")), .truncated(at: 4, copiedFingerprint: nil))
    }

    @Test func shrinkingBelowTheReadOffsetIsCopytruncateAndEverythingPendingNowPointsAtTheNewStart() {
        var file = Self.file(Self.full, at: 0)
        file.read(4096, now: Self.start)
        file.spooled(streamEnd: 2000, fileEnd: 2000)
        file.spooled(streamEnd: 4096, fileEnd: 4096)
        let emptied = Self.identity("")
        Self.expectEqual(file.looked(at: Self.seen(0), identity: emptied), .truncated(at: 4096, copiedFingerprint: Self.full))
        #expect(file.readOffset == 0 && file.identity == emptied)
        #expect(file.checkpoint.identity == emptied && file.checkpoint.fileOffset == 0)
        // stream offsets stay (the server keeps what it had); file offsets are of the new content
        #expect(file.unacknowledged.map(\.stream) == [2000, 4096] && file.unacknowledged.map(\.file) == [0, 0])
        Self.expectEqual(file.acknowledged(upTo: 4096), true)
        #expect(file.checkpoint.fileOffset == 0 && file.checkpoint.streamOffset == 4096)
    }

    @Test func aHeadRewrittenPastTheOffsetBeforeWeLookedIsATruncationToo() {
        var file = Self.file("6c696e65", at: 0)
        file.read(100, now: Self.start)
        // truncated and rewritten to 200 bytes between two looks: bigger, but another start
        Self.expectEqual(file.looked(at: Self.seen(200), identity: Self.identity("6f746865")), .truncated(at: 100, copiedFingerprint: nil))
        #expect(file.readOffset == 0 && file.identity.fingerprint == "6f746865")
    }

    @Test func aShrinkWhoseHeadCannotBeReadStillRestartsButKeepsTheIdentity() {
        var file = Self.file("6c696e65", at: 0)
        file.read(100, now: Self.start)
        Self.expectEqual(file.looked(at: Self.seen(10), identity: nil), .truncated(at: 100, copiedFingerprint: nil))
        #expect(file.readOffset == 0 && file.identity.fingerprint == "6c696e65" && file.checkpoint.fileOffset == 0)
    }

    @Test(arguments: [false, true])
    func aPartialLineWaitsForItsNewlineUntilTheFileIsQuietOrDraining(draining: Bool) {
        let file = Self.file(draining: draining)
        let timeout = Duration.seconds(5)
        #expect(file.flushesPartialLine(now: Self.start + .seconds(1), timeout: timeout) == draining)
        #expect(file.flushesPartialLine(now: Self.start + .seconds(5), timeout: timeout))
    }

    @Test func checkpointsMoveOnlyToWhatTheServerAcknowledged() {
        var file = Self.file(at: 0)
        file.spooled(streamEnd: 60, fileEnd: 10)
        file.spooled(streamEnd: 70, fileEnd: 20)
        file.spooled(streamEnd: 80, fileEnd: 30)
        Self.expectEqual(file.acknowledged(upTo: 59), false)
        #expect(file.checkpoint.fileOffset == 0 && file.checkpoint.streamOffset == 50)
        Self.expectEqual(file.acknowledged(upTo: 75), true)  // within the third piece: only the first two
        #expect(file.checkpoint.fileOffset == 20 && file.checkpoint.streamOffset == 70 && file.unacknowledged.count == 1)
        Self.expectEqual(file.acknowledged(upTo: 75), false)
        Self.expectEqual(file.acknowledged(upTo: 1000), true)
        #expect(file.checkpoint.fileOffset == 30 && file.checkpoint.streamOffset == 80 && file.unacknowledged.isEmpty)
    }

    /// Every combination of the five conditions; only all of them together let the file go.
    @Test(arguments: 0..<32)
    func aFileIsLetGoOnlyWhenDrainingReadToTheEndAcknowledgedWithoutPartialLineAndQuiet(mask: Int) {
        let draining = mask & 1 != 0, readToEnd = mask & 2 != 0, acknowledged = mask & 4 != 0
        let noPartialLine = mask & 8 != 0, quiet = mask & 16 != 0
        var file = Self.file(at: 0, draining: draining)
        file.read(100, now: Self.start)
        file.spooled(streamEnd: 150, fileEnd: 100)
        if acknowledged { _ = file.acknowledged(upTo: 150) }
        let now = Self.start + (quiet ? .seconds(1) : .milliseconds(999))
        #expect(file.isDrained(size: readToEnd ? 100 : 101, holdsPartialLine: !noPartialLine, now: now) == (mask == 31))
    }

    @Test func aFileRotatedAwayWhileTheAgentWasDownDrainsFromItsCheckpoint() {
        let checkpoint = Tailer.Checkpoint(path: "/log/app.log", identity: Self.identity("6c69"), fileOffset: 40, streamOffset: 90)
        let file = FollowedFile.rotatedAway(checkpoint, identity: Self.identity("6c696e65"), now: Self.start)
        #expect(file.phase == .draining && file.readOffset == 40)
        // the checkpoint carries what the file's start is now: longer than when it was saved
        #expect(file.checkpoint == Tailer.Checkpoint(path: "/log/app.log", identity: Self.identity("6c696e65"), fileOffset: 40, streamOffset: 90))
    }
}
