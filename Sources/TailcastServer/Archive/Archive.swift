#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import NIOCore
import TailcastProtocol

/// The files under `--data`:
///
///     DATA/lock                     held by the server that has the archive open (ArchiveLock)
///     DATA/jobs/JOB/job.json        the job (metadata, state, exit, stream → file names), replaced atomically
///     DATA/jobs/JOB/streams/F.log   a stream's bytes, exactly as written by the job
///     DATA/jobs/JOB/streams/F.idx   when each part was read (see StreamFile)
///     DATA/jobs/JOB/streams/F.log.gz, F.log.members   F.log once its job ended (see StreamCompression)
public struct Archive: Sendable {
    public let root: String
    let openFiles: OpenFiles
    let logger: Logger
    /// Held as long as the archive is open: no second server opens the same `--data`.
    private let lock: ArchiveLock

    /// `maxOpenFiles` bounds the descriptors the stream files hold, all jobs together. Throws
    /// `ArchiveLock.Held` if another server has the archive open.
    public init(root: String, maxOpenFiles: Int, logger: Logger) throws {
        self.root = root
        self.openFiles = OpenFiles(maxDescriptors: maxOpenFiles)
        self.logger = logger
        try POSIXFile.makeDirectory(root, mayBeLink: true)
        self.lock = try ArchiveLock(root: root)
        try POSIXFile.makeDirectory(self.jobsDirectory)
    }

    var jobsDirectory: String { self.root + "/jobs" }

    func jobDirectory(_ id: String) -> String { self.jobsDirectory + "/" + id }

    /// Every job record, with its streams' sizes; no stream file is opened or read. A job reached
    /// through a symbolic link is left out (and logged), never followed.
    func loadJobs() throws -> [(StoredJob, [StreamFile])] {
        // Agents are told that what the archive holds is durable: one flush of the file system makes
        // what an earlier run wrote so, where an fsync per file would open every file.
        try POSIXFile.syncFileSystem(self.jobsDirectory)
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: self.jobsDirectory)) ?? []
        // A job replaced or removed just before a crash: its folder was set aside but not yet removed.
        for retired in ids where retired.hasPrefix(Self.retiredPrefix) {
            try? FileManager.default.removeItem(atPath: self.jobsDirectory + "/" + retired)
        }
        var jobs: [(StoredJob, [StreamFile])] = []
        for id in ids.sorted() where JobID.problem(with: id) == nil {
            do {
                if let job = try self.loadJob(id) { jobs.append(job) }
            } catch let error as ArchiveError where error.errno == ELOOP {
                self.logger.error("not loading job \(id): \(error)")
            }
        }
        return jobs
    }

    private func loadJob(_ id: String) throws -> (StoredJob, [StreamFile])? {
        let path = self.jobDirectory(id) + "/job.json"
        guard try POSIXFile.isDirectory(self.jobDirectory(id)), try POSIXFile.regularFileSize(path) != nil else { return nil }
        let stored = try ProtocolJSON.decode(StoredJob.self, from: Data(try POSIXFile.readAll(path)))
        _ = try POSIXFile.isDirectory(self.jobDirectory(id) + "/streams")  // throws for a symbolic link
        let files = try stored.streams.map { stream in
            do {
                return try self.openStream(job: id, name: stream.name, file: stream.file)
            } catch let error as ArchiveError where error.errno == ELOOP {
                // Kept in the job (so its record is never rewritten without it), but it reads as
                // empty and every write to it fails with the same error.
                self.logger.error("stream \"\(stream.name)\" of job \(id) is unreadable: \(error)")
                return self.streamFile(job: id, name: stream.name, file: stream.file, size: 0)
            }
        }
        return (stored, files)
    }
    /// Folders of replaced or removed jobs start with this: no job id can (ids do not start with '.').
    static let retiredPrefix = ".replaced-"

    /// Removes a replaced or removed job's folder: renamed aside first (atomically, so its id is free at once and a
    /// crash leaves no half-removed job under it), then removed.
    func retire(_ id: String) throws {
        let aside = self.jobsDirectory + "/" + Self.retiredPrefix + "\(UnixTime.nowMs())-" + id
        guard rename(self.jobDirectory(id), aside) == 0 else { throw ArchiveError(operation: "rename", path: self.jobDirectory(id), errno: errno) }
        try POSIXFile.syncDirectory(self.jobsDirectory)
        try? FileManager.default.removeItem(atPath: aside)
    }

    func createJobDirectory(_ id: String) throws {
        try POSIXFile.makeDirectory(self.jobDirectory(id))
        try POSIXFile.makeDirectory(self.jobDirectory(id) + "/streams")
        try POSIXFile.syncDirectory(self.jobsDirectory)
    }

    func save(_ job: StoredJob) throws {
        let bytes = try ProtocolJSON.encode(job, pretty: true)
        try POSIXFile.writeAtomically(Array(bytes), to: self.jobDirectory(job.info.id) + "/job.json")
    }

    /// A stream's file, whose size is what its `.log` holds (nothing if there is no `.log` yet), or its
    /// `.log.gz` once compressed; a compression a crash interrupted is finished or discarded first.
    func openStream(job: String, name: String, file: String) throws -> StreamFile {
        let base = self.jobDirectory(job) + "/streams/" + file
        _ = try POSIXFile.regularFileSize(base + ".idx")
        let members = try StreamCompression.recover(base: base)
        let size = try members?.size ?? POSIXFile.regularFileSize(base + ".log") ?? 0
        return self.streamFile(job: job, name: name, file: file, size: size, members: members)
    }

    private func streamFile(job: String, name: String, file: String, size: UInt64, members: MemberIndex? = nil) -> StreamFile {
        let base = self.jobDirectory(job) + "/streams/" + file
        return StreamFile(name: name, dataPath: base + ".log", indexPath: base + ".idx", size: size, openFiles: self.openFiles, members: members)
    }

    /// A file name for a stream: its safe characters, made unique among `taken`. Names are free text
    /// (paths for `tail`), so they never reach the file system as they are.
    static func fileName(for stream: String, taken: Set<String>) -> String {
        var safe = String(
            stream.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "_"
            })
        safe = String(safe.drop(while: { $0 == "." || $0 == "_" }).suffix(80))
        if safe.isEmpty { safe = "stream" }
        var candidate = safe
        var counter = 2
        while taken.contains(candidate) {
            candidate = "\(safe)-\(counter)"
            counter += 1
        }
        return candidate
    }
}
