import Foundation
import NIOCore
import Testing

@testable import TailcastServer

@Suite struct StreamFileTests {
    let directory = NSTemporaryDirectory() + "streamfile-\(UUID().uuidString)"

    /// The stream `name` as the archive loads it: its size from the file system, nothing opened.
    func open(_ name: String = "s", openFiles: OpenFiles = OpenFiles(maxDescriptors: 8)) throws -> StreamFile {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let base = self.directory + "/" + name
        let size = try POSIXFile.regularFileSize(base + ".log") ?? 0
        return StreamFile(name: name, dataPath: base + ".log", indexPath: base + ".idx", size: size, openFiles: openFiles)
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

    @Test func aWatchedStreamAnswersLiveReadsFromMemoryAndTheFileStaysTheTruth() throws {
        let file = try open()
        try file.append(bytes("unwatched\n"), at: 0, timeMs: 100)
        #expect(throws: StreamFile.NotInMemory.self) { try file.read(from: 0, maxBytes: 100, memoryOnly: true) }
        try file.append(bytes("live\n"), at: 10, timeMs: 200, keepTail: true)
        #expect(String(buffer: try file.read(from: 10, maxBytes: 100, memoryOnly: true)) == "live\n")
        #expect(try file.timing(at: 10, memoryOnly: true).timeMs == 200)
        // Across the tail's start: from the file, whole.
        #expect(String(buffer: try file.read(from: 0, maxBytes: 100)) == "unwatched\nlive\n")
        file.dropTail()
        #expect(throws: StreamFile.NotInMemory.self) { try file.read(from: 10, maxBytes: 100, memoryOnly: true) }
        #expect(String(buffer: try file.read(from: 10, maxBytes: 100)) == "live\n")
    }

    @Test func liveReadsOfAWatchedStreamDoNotTouchTheFile() throws {
        let file = try open("live")
        try file.append(bytes("first\n"), at: 0, timeMs: 100, keepTail: true)
        try file.append(bytes("second\n"), at: 6, timeMs: 100, keepTail: true)
        // Cut the file under it: what a watcher at the live end is sent still comes whole, from memory.
        #expect(truncate(self.directory + "/live.log", 0) == 0)
        #expect(String(buffer: try file.read(from: 6, maxBytes: 100)) == "second\n")
        #expect(String(buffer: try file.read(from: 0, maxBytes: 100)) == "first\nsecond\n")
    }

    @Test func timesNearTheEndOfUInt64DoNotTrap() throws {
        let file = try open()
        try file.append(bytes("a"), at: 0, timeMs: UInt64.max - 5)
        try file.append(bytes("b"), at: 1, timeMs: UInt64.max)
        try file.append(bytes("c"), at: 2, timeMs: 3)
        #expect(try file.timing(at: 2).timeMs == 3)
    }

    /// Replay order: a stream is sent up to the first of its bytes read later than another stream's next byte.
    @Test func findsWhereBytesReadLaterThanATimeBegin() throws {
        let file = try open()
        try file.append(bytes("aa"), at: 0, timeMs: 100)
        try file.append(bytes("bb"), at: 2, timeMs: 200)
        try file.append(bytes("cc"), at: 4, timeMs: 300)
        #expect(try file.firstOffset(after: 0, readAfter: 150) == 2)
        #expect(try file.firstOffset(after: 0, readAfter: 200) == 4)
        #expect(try file.firstOffset(after: 3, readAfter: 100) == 4)  // the piece at 3 was read at 200: sent anyway
        #expect(try file.firstOffset(after: 0, readAfter: 300) == nil)
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
            #expect(try file.timing(at: 5).timeMs == 1000 && file.timing(at: 5).nextMark == 8)
            #expect(try file.offset(sinceMs: 1500) == 8)
        }
        // a crash mid-write leaves half a record
        let handle = FileHandle(forWritingAtPath: self.directory + "/s.idx")!
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        handle.closeFile()
        let reopened = try open()
        #expect(reopened.size == 14 && reopened.durableSize == 14)
        #expect(try reopened.timing(at: 9).timeMs == 2000)
        try reopened.append(bytes("four\n"), at: 14, timeMs: 3000)
        #expect(try reopened.timing(at: 15).timeMs == 3000)
    }

    @Test func staleMarksPastTheDataNeverComeBackAsTheFileGrows() throws {
        do {
            let file = try open()
            try file.append(bytes("abcd"), at: 0, timeMs: 1000)
        }
        // Marks past the data (their bytes never reached the log before a crash), timed 5 ms.
        let handle = FileHandle(forWritingAtPath: self.directory + "/s.idx")!
        handle.seekToEndOfFile()
        for offset: UInt64 in [100, 150] {
            var record = ByteBuffer()
            record.writeInteger(offset, endianness: .little)
            record.writeInteger(UInt64(5), endianness: .little)
            handle.write(Data(record.readableBytesView))
        }
        handle.closeFile()
        do {
            let file = try open()
            try file.append(ByteBuffer(repeating: 0x78, count: 200), at: 4, timeMs: 2000)
        }
        let reopened = try open()
        #expect(try reopened.timing(at: 160).timeMs == 2000)
    }

    @Test func marksAreReadOnlyWhenNeededAndDroppedWithTheDescriptors() throws {
        do {
            let file = try open()
            try file.append(bytes("one\n"), at: 0, timeMs: 1000)
            try file.append(bytes("two\n"), at: 4, timeMs: 2000)
        }
        let openFiles = OpenFiles(maxDescriptors: 2)
        let file = try open(openFiles: openFiles)
        #expect(!file.isOpen && !file.hasMarksLoaded && file.size == 8)
        #expect(String(buffer: try file.read(from: 0, maxBytes: 100)) == "one\ntwo\n")
        #expect(file.isOpen && !file.hasMarksLoaded)
        #expect(try file.timing(at: 1).timeMs == 1000)
        #expect(file.hasMarksLoaded)
        let other = try open("other", openFiles: openFiles)
        try other.append(bytes("x"), at: 0, timeMs: 5)
        #expect(!file.isOpen && !file.hasMarksLoaded && other.isOpen)
        #expect(try file.timing(at: 1).timeMs == 1000 && file.timing(at: 5).timeMs == 2000)
        #expect(try file.offset(sinceMs: 1500) == 4)
    }

    @Test func aBoundedArchiveHoldsItsLimitOfDescriptorsAndLosesNothing() throws {
        let openFiles = OpenFiles(maxDescriptors: 6)
        let files = try (0..<20).map { try open("s\($0)", openFiles: openFiles) }
        var expected = Array(repeating: "", count: files.count)
        for round in 0..<5 {
            for (index, file) in files.enumerated() {
                let line = "round \(round) stream \(index)\n"
                try file.append(bytes(line), at: file.size, timeMs: UInt64(1000 * round + index * 20))
                expected[index] += line
                // Tests run in parallel in this process, so its descriptor count says nothing: count files.
                #expect(files.filter(\.isOpen).count <= 3)
            }
        }
        #expect(openFiles.openCount == 3)
        for (index, file) in files.enumerated() {
            #expect(try file.sync() == UInt64(expected[index].utf8.count))
            #expect(file.durableSize == file.size)
            #expect(String(buffer: try file.read(from: 0, maxBytes: 1 << 20)) == expected[index])
            #expect(try file.timing(at: file.size - 1).timeMs == UInt64(4000 + index * 20))
        }
        #expect(files.filter(\.isOpen).count <= 3)
    }
}
