import Foundation
import Testing
import TailcastProtocol

@testable import TailcastClient

@Suite struct TokenFileTests {
    func file(_ text: String, mode: Int) throws -> String {
        let path = NSTemporaryDirectory() + "token-\(UUID().uuidString)"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test func anOwnerOnlyFileGivesItsToken() throws {
        for (text, mode) in [("publish-3f9a1c77e2b04d5e\n", 0o600), ("publish-3f9a1c77e2b04d5e", 0o400), ("publish-3f9a1c77e2b04d5e\r\n", 0o600)] {
            let path = try self.file(text, mode: mode)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(try TokenFile.read(path) == "publish-3f9a1c77e2b04d5e")
        }
    }

    @Test func aFileOthersMayReadOrWriteIsRefused() throws {
        for mode in [0o640, 0o604, 0o644, 0o620, 0o602, 0o660] {
            let path = try self.file("publish-3f9a1c77e2b04d5e\n", mode: mode)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: TokenFile.Problem.file(.tooOpen(path: path, mode: UInt32(mode)))) { try TokenFile.read(path) }
            #expect("\(TokenFile.Problem.file(.tooOpen(path: path, mode: UInt32(mode))))".contains("chmod 600"))
        }
    }

    @Test func aHashIsAnErrorNotAComment() throws {
        for text in ["publish-3f9a1c77e2b04d5e # ci\n", "publish-3f9a#1c77e2b04d5e\n", "# the token\npublish-3f9a1c77e2b04d5e\n"] {
            let path = try self.file(text, mode: 0o600)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect {
                try TokenFile.read(path)
            } throws: { error in
                "\(error)".contains("'#'")
            }
        }
    }

    @Test func anythingButOneTokenIsRefused() throws {
        for text in ["", "\n", "two tokens\n", "line-one\nline-two\n", "tökén-0123456789abcdef"] {
            let path = try self.file(text, mode: 0o600)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: TokenFile.Problem.self) { try TokenFile.read(path) }
        }
        #expect(throws: TokenFile.Problem.self) { try TokenFile.read("/nonexistent/token") }
        #expect(throws: TokenFile.Problem.self) { try TokenFile.read(NSTemporaryDirectory()) }
    }
}
