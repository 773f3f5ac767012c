/// What the tailer remembers of files it no longer follows, and what it decides, without I/O, about a
/// file a scan finds at a path no current file holds: follow it (from where), or not (why).
struct FileDiscovery: Equatable {
    enum Decision: Equatable {
        /// The same file as one followed or already read to its end (renamed to a path the patterns
        /// also match): not read twice.
        case known
        /// copytruncate's copy of a file whose lines were read there: remembered as read.
        case copy
        /// Perhaps copytruncate's copy caught while it is being written (only its start so far):
        /// decided on a later scan, when it has its whole fingerprint or has been quiet.
        case decideLater
        /// Follow it from `fileOffset`, its stream continuing at `streamOffset`. `resumes`: from a
        /// checkpoint of this very file (the bytes between the path's earlier file and it are the
        /// server's already). `checkpoint`: the restored one this uses; it is given up (`recovered`)
        /// only once the file is followed, so a failure in between (a full disk) decides again later.
        case follow(fileOffset: UInt64, streamOffset: UInt64, resumes: Bool, checkpoint: Tailer.Checkpoint?)
    }

    /// Files read to their end after a rotation: found again under another path, they are not reread.
    private(set) var finished: [FileIdentity] = []
    /// Full fingerprints of files that were then truncated: a new file starting with the same 1 KiB is
    /// the copy copytruncate made of what was already read.
    private(set) var copied: [String] = []
    /// Checkpoints of files not followed now: from the last run, or of files let go whose path's
    /// stream a new file continues.
    private(set) var restored: [Tailer.Checkpoint]

    static let maxFinished = 10_000
    static let maxCopied = 1_000

    init(restored: [Tailer.Checkpoint]) {
        self.restored = restored
    }

    /// `startsAtEnd`: existing files are read from their end (the first scan of a first run, without
    /// --from-start); files found later appeared meanwhile and are read from their start.
    /// `quietSeconds`: since the file was last modified. `atFollowedPath`: a followed file (rotated away,
    /// draining) had this path.
    mutating func decide(
        path: String, identity: FileIdentity, size: UInt64, quietSeconds: Int, startsAtEnd: Bool, followed: some Sequence<FileIdentity>,
        atFollowedPath: Bool = false
    ) -> Decision {
        if followed.contains(where: { identity.continues($0) }) || self.finished.contains(where: { identity.continues($0) }) {
            return .known
        }
        if identity.isFull, self.copied.contains(identity.fingerprint) || followed.contains(where: { $0.fingerprint == identity.fingerprint }) {
            self.finished.append(identity)
            return .copy
        }
        if !identity.isFull, !identity.fingerprint.isEmpty, quietSeconds < 2,
            followed.contains(where: {
                $0.fingerprint.utf8.count > identity.fingerprint.utf8.count && FileIdentity.fingerprint($0.fingerprint, startsWith: identity.fingerprint)
            }) || self.copied.contains(where: { FileIdentity.fingerprint($0, startsWith: identity.fingerprint) })
        {
            return .decideLater
        }
        // copytruncate creates its copy empty, then fills it: a scan woken by the creation found the copy
        // at 0 bytes, followed it, and read the rotated lines again under the copy's name (seen in CI).
        // A new file at a followed file's own path (rotation by rename and create) is no copy.
        if identity.fingerprint.isEmpty, quietSeconds < 2, !atFollowedPath,
            followed.contains(where: { !$0.fingerprint.isEmpty }) || !self.copied.isEmpty
        {
            return .decideLater
        }
        if let checkpoint = self.restored.first(where: { identity.continues($0.identity) }) {
            return .follow(fileOffset: checkpoint.fileOffset, streamOffset: checkpoint.streamOffset, resumes: true, checkpoint: checkpoint)
        }
        // Like tail -F: existing files from their end, others from their start. A new file at a known
        // path continues that path's stream; the old file's checkpoint is done.
        let fileOffset = startsAtEnd ? size : 0
        if let checkpoint = self.restored.first(where: { $0.path == path }) {
            return .follow(fileOffset: fileOffset, streamOffset: checkpoint.streamOffset, resumes: false, checkpoint: checkpoint)
        }
        return .follow(fileOffset: fileOffset, streamOffset: 0, resumes: false, checkpoint: nil)
    }

    /// A checkpoint is in use: by a file followed from it, or one rotated away while the agent was down
    /// and found by identity.
    mutating func recovered(_ checkpoint: Tailer.Checkpoint) {
        self.restored.removeAll { $0.path == checkpoint.path && $0.identity == checkpoint.identity }
    }

    /// A drained file was let go: never read again; its checkpoint stays until a new file takes the
    /// path, so the path's stream continues there.
    mutating func letGo(_ identity: FileIdentity, checkpoint: Tailer.Checkpoint) {
        self.finished.append(identity)
        if self.finished.count > Self.maxFinished { self.finished.removeFirst() }
        self.restored.removeAll { $0.path == checkpoint.path }
        self.restored.append(checkpoint)
    }

    /// A followed file was truncated: its old content's copy may show up under another name.
    mutating func truncated(copiedFingerprint: String) {
        self.copied.append(copiedFingerprint)
        if self.copied.count > Self.maxCopied { self.copied.removeFirst() }
    }
}
