import Testing

@testable import TailcastClient

@Suite struct ProxyChoiceTests {
    @Test func explicitArgument() {
        #expect(ProxyChoice(argument: "http://proxy.local:3128") == .server(host: "proxy.local", port: 3128))
        #expect(ProxyChoice(argument: "10.0.0.1:8080") == .server(host: "10.0.0.1", port: 8080))
        #expect(ProxyChoice(argument: "proxy.local") == .server(host: "proxy.local", port: 80))
        #expect(ProxyChoice(argument: "http://me:p%40ss@proxy.local:3128") == .server(host: "proxy.local", port: 3128, credentials: "me:p@ss"))
        #expect(ProxyChoice(argument: "none") == .direct)
        #expect(ProxyChoice(argument: "socks5://x:1") == nil)
        #expect(ProxyChoice(argument: "http://") == nil)
    }

    @Test func environmentPicksTheVariableForTheScheme() {
        let environment = ["http_proxy": "http://plain:1", "HTTPS_PROXY": "http://secure:2", "HTTP_PROXY": "http://ignored:3"]
        #expect(ProxyChoice.environment.resolve(host: "srv", tls: false, environment: environment) == .server(host: "plain", port: 1))
        #expect(ProxyChoice.environment.resolve(host: "srv", tls: true, environment: environment) == .server(host: "secure", port: 2))
        // Uppercase HTTP_PROXY alone is not used (httpoxy).
        #expect(ProxyChoice.environment.resolve(host: "srv", tls: false, environment: ["HTTP_PROXY": "http://x:1"]) == nil)
        #expect(ProxyChoice.direct.resolve(host: "srv", tls: false, environment: environment) == nil)
    }

    @Test func noProxyExcludesHostsAndDomains() {
        let base = ["http_proxy": "http://p:1"]
        func resolved(_ host: String, _ noProxy: String) -> Bool {
            ProxyChoice.environment.resolve(host: host, tls: false, environment: base.merging(["NO_PROXY": noProxy]) { $1 }) != nil
        }
        #expect(!resolved("127.0.0.1", "localhost,127.0.0.1"))
        #expect(!resolved("logs.example.com", ".example.com"))
        #expect(!resolved("logs.example.com", "example.com"))
        #expect(resolved("example.org", "example.com"))
        #expect(resolved("notexample.com", "example.com"))
        #expect(!resolved("anything", "*"))
        #expect(!resolved("srv", "srv:7070"))
    }

    @Test func endpointHostAndPort() {
        #expect(ServerEndpoint(url: "ws://a:7070/").hostAndPort! == ("a", 7070))
        #expect(ServerEndpoint(url: "wss://b").hostAndPort! == ("b", 443))
        #expect(ServerEndpoint(url: "ws://c").hostAndPort! == ("c", 80))
        #expect(ServerEndpoint(url: "wss://b").usesTLS)
    }
}
