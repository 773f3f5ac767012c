import Foundation
import Testing

@testable import TailcastAgent

@Suite struct FileEventsTests {
    func record(watch: Int32, mask: UInt32, name: String) -> [UInt8] {
        var name = Array(name.utf8)
        if !name.isEmpty { name += [UInt8](repeating: 0, count: 16 - name.count % 16) }
        func le(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        return le(UInt32(bitPattern: watch)) + le(mask) + le(0) + le(UInt32(name.count)) + name
    }

    @Test func parsesRecordsIntoPathsAndStructuralChanges() {
        let modify: UInt32 = 0x2, create: UInt32 = 0x100, overflow: UInt32 = 0x4000
        let bytes = record(watch: 1, mask: modify, name: "app.log") + record(watch: 2, mask: create, name: "new.log")
            + record(watch: 9, mask: modify, name: "unknown-watch") + record(watch: -1, mask: overflow, name: "")
        var changes = FileEvents.Changes()
        FileEvents.parse(bytes[...], directoryOf: [1: "/var/log", 2: "/srv/logs"], into: &changes)
        #expect(changes.paths == ["/var/log/app.log", "/srv/logs/new.log"])
        #expect(changes.directories == ["/srv/logs"])
        #expect(changes.overflowed)
    }

    @Test func realEventsFromARealDirectory() throws {
        let directory = NSTemporaryDirectory() + "events-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = try #require(FileEvents())
        #expect(events.watch([directory, directory + "/missing"]) == [directory + "/missing"])
        #expect(events.wait(timeout: .milliseconds(50)) == FileEvents.Changes())
        try Data("line\n".utf8).write(to: URL(fileURLWithPath: directory + "/a.log"))
        let created = events.wait(timeout: .seconds(2))
        #expect(created.paths.contains(directory + "/a.log"))
        #expect(created.directories == [directory])
        let handle = try #require(FileHandle(forWritingAtPath: directory + "/a.log"))
        handle.seekToEndOfFile()
        handle.write(Data("more\n".utf8))
        try handle.close()
        let written = events.wait(timeout: .seconds(2))
        #expect(written.paths == [directory + "/a.log"] && written.directories.isEmpty)
        events.watch([])
        #expect(events.watchedDirectories.isEmpty)
    }

    @Test func patternsNameTheDirectoriesToWatch() throws {
        let root = NSTemporaryDirectory() + "pattern-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data().write(to: URL(fileURLWithPath: root + "/a/b/x.log"))
        let deep = PathPattern(root + "/**/*.log").expand()
        #expect(deep.files == [root + "/a/b/x.log"])
        #expect(deep.directories == [root, root + "/a", root + "/a/b"])
        let literal = PathPattern(root + "/a/b/y.log").expand()
        #expect(literal.files.isEmpty && literal.directories == [root + "/a/b"])
    }
}
