/// What the broker said when it accepted a connection.
public struct ConnectResult: Sendable, Hashable {
    /// Whether the broker resumed a session it kept for this client identifier.
    public var sessionPresent: Bool
    /// The CONNACK's 5.0 properties: limits the broker imposes, an assigned client identifier, …
    public var properties: Properties
    /// The protocol version in use.
    public var protocolVersion: ProtocolVersion

    /// A result as a CONNACK would give it; for tests and for code that stands in for a broker.
    public init(sessionPresent: Bool, properties: Properties = [], protocolVersion: ProtocolVersion) {
        self.sessionPresent = sessionPresent
        self.properties = properties
        self.protocolVersion = protocolVersion
    }
}
