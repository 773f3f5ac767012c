import Foundation
import NIOCore
import Testing

@testable import TailcastServer

@Suite struct WebTests {
    @Test func rangesOfAHundredBytes() {
        #expect(ByteRange(header: nil, size: 100) == .full)
        #expect(ByteRange(header: "bytes=10-19", size: 100) == .partial(first: 10, last: 19))
        #expect(ByteRange(header: "bytes=90-", size: 100) == .partial(first: 90, last: 99))
        #expect(ByteRange(header: "bytes=90-500", size: 100) == .partial(first: 90, last: 99))
        #expect(ByteRange(header: "bytes=-10", size: 100) == .partial(first: 90, last: 99))
        #expect(ByteRange(header: "bytes=-500", size: 100) == .partial(first: 0, last: 99))
        #expect(ByteRange(header: "bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=-0", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=-5", size: 0) == .unsatisfiable)
        // Not one range this server reads: the whole resource, as RFC 9110 allows.
        #expect(ByteRange(header: "bytes=0-1,5-6", size: 100) == .full)
        #expect(ByteRange(header: "bytes=9-3", size: 100) == .full)
        #expect(ByteRange(header: "items=0-1", size: 100) == .full)
        #expect(ByteRange(header: "bytes=a-b", size: 100) == .full)
        #expect(ByteRange(header: "bytes=99999999999999999999999-", size: 100) == .full)
    }

    @Test func gzipIsAcceptedUnlessRefused() throws {
        #expect(GzipStream.isAccepted(by: "gzip, deflate, br"))
        #expect(GzipStream.isAccepted(by: "deflate, GZIP;q=0.5"))
        #expect(!GzipStream.isAccepted(by: "gzip;q=0"))
        #expect(!GzipStream.isAccepted(by: "br"))
        #expect(!GzipStream.isAccepted(by: nil))
    }

    @Test func positionsRoundTripWithAnyStreamName() throws {
        var position = EventStreamPosition()
        position.set("stdout", 12)
        position.set("/var/log/a,b:c%.log", 7)
        position.set("stdout", 40)
        #expect(position.id == "stdout:40,/var/log/a%2Cb%3Ac%25.log:7")
        let parsed = try #require(EventStreamPosition(id: position.id))
        #expect(parsed.offsets.map(\.name) == ["stdout", "/var/log/a,b:c%.log"])
        #expect(parsed.offsets.map(\.offset) == [40, 7])
        #expect(EventStreamPosition(id: "stdout") == nil)
        #expect(EventStreamPosition(id: "stdout:-1") == nil)
        #expect(EventStreamPosition(id: ":5") == nil)
    }

    @Test func outputIsTextUntilACutCharacterAndBase64ForOtherBytes() {
        let cafe = Array("café".utf8)
        // "caf" and the first byte of "é": the cut byte waits for the next event.
        let cut = ServerSentEvent.output(stream: "stdout", offset: 0, bytes: ByteBuffer(bytes: cafe.dropLast()))
        #expect(cut.count == 3 && cut.data.contains("\"text\":\"caf\""))
        let whole = ServerSentEvent.output(stream: "stdout", offset: 0, bytes: ByteBuffer(bytes: cafe))
        #expect(whole.count == 5)
        // Text up to bytes that are not UTF-8; those, up to the next ASCII byte, as base64.
        let mixed = ServerSentEvent.output(stream: "stdout", offset: 0, bytes: ByteBuffer(bytes: [0x61, 0xFF, 0xFE, 0x62]))
        #expect(mixed.count == 1 && mixed.data.contains("\"text\":\"a\""))
        let binary = ServerSentEvent.output(stream: "stdout", offset: 1, bytes: ByteBuffer(bytes: [0xFF, 0xFE, 0x62]))
        #expect(binary.count == 2 && binary.data.contains(#""base64":"\/\/4=""#))
        let lone = ServerSentEvent.output(stream: "stdout", offset: 3, bytes: ByteBuffer(bytes: [0xC3]))
        #expect(lone.count == 1 && lone.data.contains("\"base64\":\"ww==\""))
        // Overlong forms and surrogates are not UTF-8.
        #expect(ServerSentEvent.utf8Prefix(of: ByteBuffer(bytes: [0xC0, 0x80]).readableBytesView) == 0)
        #expect(ServerSentEvent.utf8Prefix(of: ByteBuffer(bytes: [0xED, 0xA0, 0x80]).readableBytesView) == 0)
        #expect(ServerSentEvent.utf8Prefix(of: ByteBuffer(bytes: [0xF0, 0x9F, 0x98, 0x80, 0xF0, 0x9F]).readableBytesView) == 4)
    }

    @Test func theWatchCookieStandsForABearerToken() {
        let set = WatchCookie.setCookie(token: "watch;token=0123456789", tls: true)
        #expect(set.hasPrefix("tailcast_watch=watch%3Btoken%3D0123456789; Path=/; HttpOnly; SameSite=Strict"))
        #expect(set.hasSuffix("; Secure"))
        let pair = set.split(separator: ";")[0]
        #expect(WatchCookie.authorization(cookie: "other=1; " + pair) == "Bearer watch;token=0123456789")
        #expect(WatchCookie.authorization(cookie: "other=1") == nil)
        #expect(WatchCookie.authorization(cookie: nil) == nil)
    }
}
