import Foundation
import Testing

@testable import TailcastAgent

@Suite struct TailPatternTests {
    @Test func globsMatchWithinSegmentsAndDoubleStarAcrossThem() {
        #expect(PathPattern("/var/log/*.log").matches("/var/log/app.log"))
        #expect(!PathPattern("/var/log/*.log").matches("/var/log/sub/app.log"))
        #expect(PathPattern("/data/**/*.log").matches("/data/a/b/c.log"))
        #expect(PathPattern("/data/**/*.log").matches("/data/c.log"))
        #expect(PathPattern("*.gz").matches("/var/log/old.log.gz"))  // no slash: the file name
        #expect(!PathPattern("*.gz").matches("/var/log/app.log"))
        #expect(PathPattern("/logs/run-[0-9]/x.log").matches("/logs/run-3/x.log"))
    }

    @Test func expandsOnlyRegularFilesItCanReach() throws {
        let root = NSTemporaryDirectory() + "pattern-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        for path in ["/x.log", "/a/y.log", "/a/b/z.log", "/a/b/z.txt"] {
            #expect(FileManager.default.createFile(atPath: root + path, contents: Data()))
        }
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(PathPattern(root + "/**/*.log").files().sorted() == [root + "/a/b/z.log", root + "/a/y.log", root + "/x.log"])
        #expect(PathPattern(root + "/*.log").files() == [root + "/x.log"])
        #expect(PathPattern(root + "/a").files().isEmpty)  // a directory is not a file to follow
    }

    /// Whoever can write into a followed directory must not make the sidecar read any other file.
    @Test func linksFoundByThePatternAreReportedNotFollowed() throws {
        let root = NSTemporaryDirectory() + "pattern-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/logs/real", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: root) }
        for path in ["/logs/app.log", "/logs/real/x.log", "/outside/secret.log", "/outside/x.log"] {
            #expect(fm.createFile(atPath: root + path, contents: Data()))
        }
        try fm.createSymbolicLink(atPath: root + "/logs/planted.log", withDestinationPath: root + "/outside/secret.log")
        try fm.createSymbolicLink(atPath: root + "/logs/out", withDestinationPath: root + "/outside")
        try fm.createSymbolicLink(atPath: root + "/chosen", withDestinationPath: root + "/logs")

        let flat = PathPattern(root + "/logs/*.log").expand()
        #expect(flat.files == [root + "/logs/app.log"] && flat.links == [root + "/logs/planted.log"])
        // A directory link matched by a wildcard is not entered; under ** links are passed over silently.
        let nested = PathPattern(root + "/logs/*/x.log").expand()
        #expect(nested.files == [root + "/logs/real/x.log"] && nested.links == [root + "/logs/out"])
        let deep = PathPattern(root + "/logs/**/*.log").expand()
        #expect(deep.files.sorted() == [root + "/logs/app.log", root + "/logs/real/x.log"] && deep.links == [root + "/logs/planted.log"])
        // A literal path is no exception for the file itself.
        let literal = PathPattern(root + "/logs/planted.log").expand()
        #expect(literal.files.isEmpty && literal.links == [root + "/logs/planted.log"])
        // A directory the user names before any wildcard is theirs to choose: followed, with its own
        // links still not.
        let chosen = PathPattern(root + "/chosen/*.log").expand()
        #expect(chosen.files == [root + "/chosen/app.log"] && chosen.links == [root + "/chosen/planted.log"])
        #expect(chosen.directories == [root + "/chosen"])
        // After a wildcard, a literal directory is found by the pattern, not named by the user.
        let afterWildcard = PathPattern(root + "/lo*/out/x.log").expand()
        #expect(afterWildcard.files.isEmpty && afterWildcard.links == [root + "/logs/out"])
    }

    @Test func progressFilesAreJSONOrAnNOverMLine() throws {
        let json = try ProgressFile.parse(#"{"current": 4, "total": 10, "unit": "epochs", "label": "train"}"#)
        #expect(json.current == 4 && json.total == 10 && json.unit == "epochs" && json.label == "train")
        let line = try ProgressFile.parse("old line\n40/100 files copy job\n\n")
        #expect(line.current == 40 && line.total == 100 && line.unit == "files" && line.label == "copy job")
        let count = try ProgressFile.parse("17")
        #expect(count.current == 17 && count.total == nil)
        #expect(throws: (any Error).self) { try ProgressFile.parse("loss went down") }
        #expect(throws: (any Error).self) { try ProgressFile.parse("") }
    }

    @Test func identityContinuesOnlyTheSameFileWithTheSameStart() {
        let early = FileIdentity(device: 1, inode: 7, fingerprint: "6162")
        #expect(FileIdentity(device: 1, inode: 7, fingerprint: "61626364").continues(early))  // grew
        #expect(!FileIdentity(device: 1, inode: 7, fingerprint: "7a7a").continues(early))  // inode reused
        #expect(!FileIdentity(device: 2, inode: 7, fingerprint: "6162").continues(early))
    }
}
