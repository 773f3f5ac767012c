import Foundation
import Testing

@testable import TailcastServer

@Suite struct AccessTokensTests {
    let tokens = AccessTokens([(.publish, "publish-token-0123456789"), (.watch, "watch-token-0123456789"), (.watch, "both-token-0123456789"), (.publish, "both-token-0123456789")])

    @Test func rolesAreEnforced() {
        #expect(tokens.decide(authorization: "Bearer publish-token-0123456789", for: .publish) == .allowed)
        #expect(tokens.decide(authorization: "Bearer publish-token-0123456789", for: .watch) == .forbidden(.watch))
        #expect(tokens.decide(authorization: "Bearer watch-token-0123456789", for: .publish) == .forbidden(.publish))
        #expect(tokens.decide(authorization: "bearer watch-token-0123456789", for: .watch) == .allowed)
        #expect(tokens.decide(authorization: "Bearer both-token-0123456789", for: .watch) == .allowed)
        #expect(tokens.decide(authorization: "Bearer both-token-0123456789", for: .publish) == .allowed)
    }

    @Test func missingAndUnknownTokens() {
        #expect(tokens.decide(authorization: nil, for: .watch) == .missing)
        #expect(tokens.decide(authorization: "Basic abc", for: .watch) == .missing)
        #expect(tokens.decide(authorization: "Bearer watch-token-012345678", for: .watch) == .unknown)
        #expect(tokens.decide(authorization: "Bearer watch-token-01234567890", for: .watch) == .unknown)
        #expect(tokens.decide(authorization: "Bearer ", for: .watch) == .missing)
        #expect(AccessTokens().decide(authorization: nil, for: .publish) == .allowed)
    }

    @Test func constantTimeComparison() {
        #expect(AccessTokens.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!AccessTokens.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!AccessTokens.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!AccessTokens.constantTimeEqual([], Array("a".utf8)))
        // Lengths that differ by a multiple of 256 must still differ.
        #expect(!AccessTokens.constantTimeEqual([UInt8](repeating: 0, count: 256), []))
    }

    @Test func tokensFile() throws {
        let path = NSTemporaryDirectory() + "tokens-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func write(_ text: String, mode: Int = 0o600) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        }
        try write("# agents\npublish aaaaaaaaaaaaaaaa\n\nwatch bbbbbbbbbbbbbbbb  # laptops\n  # indented comment\nwatch cccccccccccccccc\t#tabbed\n")
        let parsed = try AccessTokens.parse(file: path)
        #expect(parsed.map(\.role) == [.publish, .watch, .watch])
        #expect(parsed.map(\.token) == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"])

        try write("publish short\n")
        #expect(throws: AccessTokens.FileError.self) { try AccessTokens.parse(file: path) }
        try write("admin aaaaaaaaaaaaaaaa\n")
        do {
            _ = try AccessTokens.parse(file: path)
            Issue.record("expected a bad line")
        } catch {
            #expect("\(error)".contains(":1:"))
        }
    }
    @Test func aHashInsideATokenIsAnErrorNotAComment() throws {
        let path = NSTemporaryDirectory() + "tokens-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Before, this was the token "aaaaaaaaaaaaaaaa" and the rest a comment: a silently different token.
        for text in ["publish aaaaaaaaaaaaaaaa#bbbbbbbb\n", "watch aaaaaaaa#aaaaaaaaaaaaaaaa\n"] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            #expect {
                try AccessTokens.parse(file: path)
            } throws: { error in
                "\(error)".contains(":1:") && "\(error)".contains("'#'")
            }
        }
    }

    @Test func aTokensFileOthersMayReadIsRefused() throws {
        let path = NSTemporaryDirectory() + "tokens-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "publish aaaaaaaaaaaaaaaa\n".write(toFile: path, atomically: true, encoding: .utf8)
        for mode in [0o640, 0o644, 0o604, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            #expect {
                try AccessTokens.parse(file: path)
            } throws: { error in
                "\(error)".contains("too open") && "\(error)".contains("chmod 600")
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        #expect(try AccessTokens.parse(file: path).map(\.token) == ["aaaaaaaaaaaaaaaa"])
    }
}
