import NIOWebSocket

/// A frame from the peer that RFC 6455 or MQTT over WebSocket forbids: the connection has been failed with
/// `status`, and this error tells the handlers above why.
public struct WebSocketViolation: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let status: WebSocketErrorCode

    public var description: String { "WebSocket protocol violation: \(reason)" }
}
