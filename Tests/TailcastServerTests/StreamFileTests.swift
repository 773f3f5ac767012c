import Foundation
import NIOCore
import Testing

@testable import TailcastServer

@Suite struct StreamFileTests {
    let directory = NSTemporaryDirectory() + "streamfile-\(UUID().uuidString)"

    func open() throws -> StreamFile {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        return try StreamFile(name: "stdout", dataPath: self.directory + "/s.log", indexPath: self.directory + "/s.idx")
    }

    func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test func keepsEveryByteOnceWhateverIsResent() throws {
        let file = try open()
        #expect(try file.append(bytes("hello "), at: 0, timeMs: 100) == 6)
        #expect(try file.append(bytes("hello world\n"), at: 0, timeMs: 100) == 6)  // overlap: only the new part
        #expect(try file.append(bytes("lo "), at: 3, timeMs: 100) == 0)  // wholly old
        #expect(throws: StreamFile.Gap.self) { try file.append(self.bytes("x"), at: 20, timeMs: 100) }
        #expect(String(buffer: try file.read(from: 0, maxBytes: 100)) == "hello world\n")
        #expect(try file.sync() == 12)
        #expect(file.durableSize == 12)
    }

    @Test func timesNearTheEndOfUInt64DoNotTrap() throws {
        let file = try open()
        try file.append(bytes("a"), at: 0, timeMs: UInt64.max - 5)
        try file.append(bytes("b"), at: 1, timeMs: UInt64.max)
        try file.append(bytes("c"), at: 2, timeMs: 3)
        #expect(file.timing(at: 2).timeMs == 3)
    }

    @Test func findsWhereTheLastLinesStart() throws {
        let file = try open()
        try file.append(bytes("a\nbb\nccc\n"), at: 0, timeMs: 0)
        #expect(try file.offset(tailLines: 1) == 5)
        #expect(try file.offset(tailLines: 2) == 2)
        #expect(try file.offset(tailLines: 10) == 0)
        #expect(try file.offset(tailLines: 0) == 9)
        try file.append(bytes("partial"), at: 9, timeMs: 0)
        #expect(try file.offset(tailLines: 1) == 9)
    }

    @Test func timesMarksSurviveReopeningAndATornIndexIsCut() throws {
        do {
            let file = try open()
            try file.append(bytes("one\n"), at: 0, timeMs: 1000)
            try file.append(bytes("two\n"), at: 4, timeMs: 1005)  // within 10 ms: same mark
            try file.append(bytes("three\n"), at: 8, timeMs: 2000)
            #expect(file.timing(at: 5).timeMs == 1000 && file.timing(at: 5).nextMark == 8)
            #expect(file.offset(sinceMs: 1500) == 8)
        }
        // a crash mid-write leaves half a record
        let handle = FileHandle(forWritingAtPath: self.directory + "/s.idx")!
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        handle.closeFile()
        let reopened = try open()
        #expect(reopened.size == 14 && reopened.durableSize == 14)
        #expect(reopened.timing(at: 9).timeMs == 2000)
        try reopened.append(bytes("four\n"), at: 14, timeMs: 3000)
        #expect(reopened.timing(at: 15).timeMs == 3000)
    }
}
