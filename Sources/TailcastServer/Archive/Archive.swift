import Foundation
import NIOCore
import TailcastProtocol

/// The files under `--data`:
///
///     DATA/jobs/JOB/job.json        the job (metadata, state, exit, stream → file names), replaced atomically
///     DATA/jobs/JOB/streams/F.log   a stream's bytes, exactly as written by the job
///     DATA/jobs/JOB/streams/F.idx   when each part was read (see StreamFile)
public struct Archive: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try POSIXFile.makeDirectory(root)
        try POSIXFile.makeDirectory(self.jobsDirectory)
    }

    var jobsDirectory: String { self.root + "/jobs" }

    func jobDirectory(_ id: String) -> String { self.jobsDirectory + "/" + id }

    func loadJobs() throws -> [(StoredJob, [StreamFile])] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: self.jobsDirectory)) ?? []
        var jobs: [(StoredJob, [StreamFile])] = []
        for id in ids.sorted() where JobID.problem(with: id) == nil {
            let path = self.jobDirectory(id) + "/job.json"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let stored = try ProtocolJSON.decode(StoredJob.self, from: Data(try POSIXFile.readAll(path)))
            let files = try stored.streams.map { try self.openStream(job: id, name: $0.name, file: $0.file) }
            jobs.append((stored, files))
        }
        return jobs
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

    func openStream(job: String, name: String, file: String) throws -> StreamFile {
        let base = self.jobDirectory(job) + "/streams/" + file
        return try StreamFile(name: name, dataPath: base + ".log", indexPath: base + ".idx")
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
