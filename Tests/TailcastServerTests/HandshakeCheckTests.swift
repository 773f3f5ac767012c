import NIOHTTP1
import Testing

@testable import TailcastServer

@Suite struct HandshakeCheckTests {
    static func head(
        _ method: HTTPMethod = .GET, version: HTTPVersion = .http1_1, upgrade: String? = "websocket",
        keys: [String] = ["dGhlIHNhbXBsZSBub25jZQ=="], versions: [String] = ["13"]
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders([("Host", "127.0.0.1"), ("Connection", "Upgrade")])
        if let upgrade { headers.add(name: "Upgrade", value: upgrade) }
        for key in keys { headers.add(name: "Sec-WebSocket-Key", value: key) }
        for version in versions { headers.add(name: "Sec-WebSocket-Version", value: version) }
        return HTTPRequestHead(version: version, method: method, uri: "/v1/watch", headers: headers)
    }

    static let badKey = HandshakeCheck.Verdict.refuse(.badRequest, "Sec-WebSocket-Key must be one header of 16 bytes in base64")
    static let badVersion = HandshakeCheck.Verdict.refuse(.upgradeRequired, "this server speaks WebSocket version 13 only (Sec-WebSocket-Version)")

    @Test func requestsThatDoNotUpgradeToWebSocketAreLeftAlone() {
        #expect(HandshakeCheck.check(Self.head(upgrade: nil, keys: [], versions: [])) == .notWebSocket)
        #expect(HandshakeCheck.check(Self.head(.POST, upgrade: "h2c", keys: [])) == .notWebSocket)
    }

    @Test func aCorrectHandshakePasses() {
        #expect(HandshakeCheck.check(Self.head()) == .pass)
        #expect(HandshakeCheck.check(Self.head(upgrade: "WebSocket")) == .pass)
        #expect(HandshakeCheck.check(Self.head(upgrade: "h2c, websocket")) == .pass)
    }

    @Test func onlyGetOverHTTP11Upgrades() {
        let refusal = HandshakeCheck.Verdict.refuse(.badRequest, "a WebSocket handshake is a GET request over HTTP/1.1")
        #expect(HandshakeCheck.check(Self.head(.POST)) == refusal)
        #expect(HandshakeCheck.check(Self.head(version: .http1_0)) == refusal)
    }

    @Test func anotherVersionGets426() {
        #expect(HandshakeCheck.check(Self.head(versions: [])) == Self.badVersion)
        #expect(HandshakeCheck.check(Self.head(versions: ["8"])) == Self.badVersion)
        #expect(HandshakeCheck.check(Self.head(versions: ["13, abc"])) == Self.badVersion)
        #expect(HandshakeCheck.check(Self.head(versions: ["13", "13"])) == Self.badVersion)
    }

    @Test func theKeyMustBe16BytesInBase64() {
        #expect(HandshakeCheck.check(Self.head(keys: [])) == Self.badKey)
        #expect(HandshakeCheck.check(Self.head(keys: ["c2hvcnQ="])) == Self.badKey, "5 bytes")
        #expect(HandshakeCheck.check(Self.head(keys: ["dGhlIHNhbXBsZSBub25jZSE="])) == Self.badKey, "17 bytes")
        #expect(HandshakeCheck.check(Self.head(keys: ["not base64 at all!!!!!=="])) == Self.badKey)
        #expect(HandshakeCheck.check(Self.head(keys: ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="])) == Self.badKey)
    }
}
