import Metrics

/// What the connection layer did, at /metrics: how many TCP connections are open, and why it closed the ones it
/// closed before (or instead of) the WebSocket and HTTP handlers.
struct ConnectionMetrics: Sendable {
    enum Reason: String, CaseIterable {
        /// Accepted when every place was taken by a connection past its request head.
        case full
        /// Closed to make room: the oldest connection still waiting for its request head.
        case evicted
        /// No complete request head within `ServerConfiguration.requestHeadTimeout` of the accept.
        case requestHeadTimeout = "request_head_timeout"
        /// A WebSocket handshake RFC 6455 does not allow (`HandshakeCheck`).
        case badHandshake = "bad_handshake"
        /// A WebSocket closed with an error code (1002, 1007, 1009, 1011...), by `FrameValidator` or the libraries.
        case webSocketError = "websocket_error"
    }

    let open = Meter(label: "tailcast_connections_open")
    private let closes = Dictionary(uniqueKeysWithValues: Reason.allCases.map {
        ($0, Counter(label: "tailcast_connections_closed_total", dimensions: [("reason", $0.rawValue)]))
    })

    func closed(_ reason: Reason) { self.closes[reason]!.increment() }
}
