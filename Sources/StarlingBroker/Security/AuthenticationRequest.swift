import MQTT
import NIOCore

/// What a client presented to be let in: its CONNECT, or one AUTH packet of an enhanced authentication exchange.
public struct AuthenticationRequest: Sendable {
    /// Whether the client is being let in or, already connected, is re-authenticating.
    public enum Stage: Sendable, Hashable {
        /// Before CONNACK: the CONNECT itself, or an AUTH 0x18 answering the broker's AUTH 0x18.
        case connect
        /// After CONNACK: the client's AUTH 0x19, or an AUTH 0x18 that continues it (4.12.1).
        case reauthentication
    }

    /// Whether the request comes before or after CONNACK.
    public var stage: Stage
    /// 1 for the packet that starts an exchange (CONNECT or AUTH 0x19), then one more for each AUTH 0x18 of it,
    /// so that a multi-step method knows which message it is reading.
    public var step: Int
    /// Stays the same for every request about one network connection, and differs between connections, so that
    /// a method can keep the state of an exchange (a SCRAM nonce) between steps.
    public var connectionNumber: UInt64
    /// The client identifier: the one in CONNECT, or the one the broker assigned to an empty one. A
    /// `ClientIdentifierBinding` applied once the client is accepted may still replace it with the user name.
    public var clientIdentifier: String
    /// The CONNECT's User Name, in every request about the connection (re-authentication included); nil when
    /// the client sent none.
    public var userName: String?
    /// The CONNECT's password; nil in re-authentication, where only Authentication Data counts.
    public var password: ByteBuffer?
    /// The MQTT version the client connected with; only 5.0 clients have enhanced authentication.
    public var protocolVersion: ProtocolVersion
    /// The client's address; on a listener with the PROXY protocol, the one the proxy reported.
    public var remoteAddress: SocketAddress?
    /// On a TLS listener, the certificate the client presented and the listener's trust roots verified.
    public var clientCertificate: ClientCertificate?
    /// 5.0: the method named in CONNECT; every AUTH of the connection repeats it (MQTT-4.12.0-5).
    public var authenticationMethod: String?
    /// 5.0: the Authentication Data of the packet this request is for.
    public var authenticationData: ByteBuffer?
    /// 5.0: every property of the packet this request is for (user properties among them).
    public var properties: Properties

    /// A request for the first step of a CONNECT unless told otherwise, for tests and for authenticators that
    /// ask another one.
    public init(
        stage: Stage = .connect, step: Int = 1, connectionNumber: UInt64 = 0, clientIdentifier: String,
        userName: String? = nil, password: ByteBuffer? = nil, protocolVersion: ProtocolVersion,
        remoteAddress: SocketAddress? = nil, clientCertificate: ClientCertificate? = nil,
        authenticationMethod: String? = nil, authenticationData: ByteBuffer? = nil,
        properties: Properties = []
    ) {
        self.stage = stage
        self.step = step
        self.connectionNumber = connectionNumber
        self.clientIdentifier = clientIdentifier
        self.userName = userName
        self.password = password
        self.protocolVersion = protocolVersion
        self.remoteAddress = remoteAddress
        self.clientCertificate = clientCertificate
        self.authenticationMethod = authenticationMethod
        self.authenticationData = authenticationData
        self.properties = properties
    }
}
