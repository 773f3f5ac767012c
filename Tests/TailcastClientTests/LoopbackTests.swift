import Testing

@testable import TailcastClient

@Suite struct LoopbackTests {
    @Test func loopbackAddressesAndLocalhost() {
        for host in ["127.0.0.1", "127.255.255.254", "127.0.0.2", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"] {
            #expect(Loopback.contains(host: host), "\(host)")
        }
    }

    @Test func namesThatOnlyLookLikeLoopbackAreNot() {
        for host in [
            "127.evil.com", "127.0.0.1.evil.com", "localhost.evil.com", "evil-localhost", "127.0.0.1x", "127.1", "128.0.0.1", "0.0.0.0",
            "::", "::2", "::ffff:10.0.0.1", "10.0.0.1", "logs.example.com", "", "[127.0.0.1]",
        ] {
            #expect(!Loopback.contains(host: host), "\(host)")
        }
    }

    @Test func aTokenInTheClearIsOnlyWhereTheNetworkCouldReadIt() {
        #expect(ServerEndpoint(url: "ws://logs.example.com:7070", token: "t").sendsTokenInTheClear)
        #expect(ServerEndpoint(url: "ws://127.evil.com:7070", token: "t").sendsTokenInTheClear)
        #expect(ServerEndpoint(url: "ws://10.0.0.5:7070/", token: "t").sendsTokenInTheClear)
        #expect(!ServerEndpoint(url: "ws://127.0.0.1:7070", token: "t").sendsTokenInTheClear)
        #expect(!ServerEndpoint(url: "ws://[::1]:7070", token: "t").sendsTokenInTheClear)
        #expect(!ServerEndpoint(url: "ws://localhost:7070", token: "t").sendsTokenInTheClear)
        #expect(!ServerEndpoint(url: "wss://logs.example.com:7070", token: "t").sendsTokenInTheClear)
        #expect(!ServerEndpoint(url: "ws://logs.example.com:7070").sendsTokenInTheClear)
    }
}
