import Foundation
import NIOCore
import Testing

@testable import TailcastServer

@Suite struct StreamCompressionTests {
    let directory = NSTemporaryDirectory() + "streamcompression-\(UUID().uuidString)"

    func open(openFiles: OpenFiles = OpenFiles(maxDescriptors: 8)) throws -> StreamFile {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let base = self.directory + "/s"
        let members = try StreamCompression.recover(base: base)
        let size = try members?.size ?? POSIXFile.regularFileSize(base + ".log") ?? 0
        return StreamFile(name: "s", dataPath: base + ".log", indexPath: base + ".idx", size: size, openFiles: openFiles, members: members)
    }

    /// 2.5 MiB of numbered lines: three members.
    static let content = ByteBuffer(string: (0..<100_000).map { "line \($0) \(String(repeating: "y", count: $0 % 20))\n" }.joined())

    @Test func readsTheSameBytesAtEveryOffsetBeforeAndAfterAReopen() throws {
        let file = try open()
        try file.append(Self.content, at: 0, timeMs: 1000)
        try file.sync()
        let size = UInt64(Self.content.readableBytes)
        let plain = try file.read(from: 0, maxBytes: Int(size))
        let tail = try file.offset(tailLines: 5)
        let freed = try StreamCompression.compress(file)
        #expect(freed > 0 && file.members?.memberCount == 3)
        #expect(!FileManager.default.fileExists(atPath: file.dataPath))
        for reopened in [file, try open()] {
            #expect(reopened.size == size)
            #expect(try reopened.read(from: 0, maxBytes: Int(size)) == plain)
            // Across a member's edge, and at the end.
            let edge = UInt64(MemberIndex.memberBytes) - 10
            #expect(try reopened.read(from: edge, maxBytes: 20) == plain.getSlice(at: Int(edge), length: 20))
            #expect(try reopened.read(from: size - 3, maxBytes: 100) == plain.getSlice(at: Int(size) - 3, length: 3))
            #expect(try reopened.read(from: size, maxBytes: 100).readableBytes == 0)
            #expect(try reopened.offset(tailLines: 5) == tail)
        }
    }

    @Test func descriptorsOpenOnThePlainFileGiveWayToTheCompressedOne() throws {
        let openFiles = OpenFiles(maxDescriptors: 8)
        let file = try open(openFiles: openFiles)
        try file.append(ByteBuffer(string: "kept\n"), at: 0, timeMs: 1000)
        try file.sync()
        _ = try file.read(from: 0, maxBytes: 5)
        #expect(file.isOpen && openFiles.openCount == 1)
        _ = try StreamCompression.compress(file)
        // Closed at once (no read held them), so the unlinked plain file's space comes back.
        #expect(!file.isOpen && openFiles.openCount == 0)
        #expect(String(buffer: try file.read(from: 0, maxBytes: 5)) == "kept\n")
    }

    @Test func recoveryDiscardsTemporariesAndFinishesACommit() throws {
        let file = try open()
        try file.append(ByteBuffer(string: "plain\n"), at: 0, timeMs: 1000)
        try file.sync()
        // Temporaries only: the plain file stays the stream.
        FileManager.default.createFile(atPath: file.compressedPath + ".tmp", contents: Data([1, 2, 3]))
        FileManager.default.createFile(atPath: file.membersPath + ".tmp", contents: Data([1]))
        #expect(try StreamCompression.recover(base: self.directory + "/s") == nil)
        #expect(!FileManager.default.fileExists(atPath: file.compressedPath + ".tmp"))
        // A commit with the plain file still there: the .gz is the stream, the .log goes.
        _ = try StreamCompression.compress(file)
        FileManager.default.createFile(atPath: file.dataPath, contents: Data("plain\n".utf8))
        #expect(try StreamCompression.recover(base: self.directory + "/s")?.size == 6)
        #expect(!FileManager.default.fileExists(atPath: file.dataPath))
    }
}
