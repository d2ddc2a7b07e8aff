import NIOCore
import NIOSSL

/// Everything a client needs to know to connect and to behave once connected.
public struct MQTTClientConfiguration: Sendable {
    /// How MQTT packets travel to the broker.
    public enum Transport: Sendable, Hashable {
        /// MQTT directly over TCP (with TLS when `tls` is set).
        case tcp
        /// MQTT over WebSocket (section 6 of both specifications) with subprotocol `mqtt`, at `path`.
        case webSocket(path: String)
    }

    /// The will message, published by the broker if the connection ends without DISCONNECT. In 5.0 its
    /// properties may hold a Will Delay Interval (`.willDelayInterval`) and the message properties.
    public typealias Will = ConnectPacket.Will

    /// The broker's host name or IP address.
    public var host: String
    /// The broker's port; `init` fills in the transport's default (see `defaultPort(transport:tls:)`).
    public var port: Int
    /// Plain MQTT over TCP, or MQTT inside WebSocket frames.
    public var transport: Transport
    /// TLS settings; nil for a plain connection. For `mqtts://` and `wss://` URLs this is the system's default
    /// client configuration, which verifies the broker's certificate against the system trust roots.
    public var tls: TLSConfiguration?
    /// The name sent in TLS SNI and checked against the broker's certificate; nil to use `host` (when it is a name).
    public var tlsServerName: String?

    /// The MQTT version to speak: 5.0 by default, or 3.1.1 (or 3.1) for older brokers.
    public var protocolVersion: ProtocolVersion
    /// The identifier the broker keeps this client's session under; two clients with the same one take the
    /// session from each other.
    public var clientIdentifier: String
    /// Clean Start (5.0) or Clean Session (3.1.1) on the first connection. Reconnections in 5.0 ask to resume
    /// the session whenever `sessionExpiryInterval` keeps it alive on the broker.
    public var cleanStart: Bool
    /// 5.0: seconds the broker keeps the session after the connection ends (0: it ends with the connection,
    /// `UInt32.max`: never expires). 3.1.1 has no expiry: `cleanStart == false` keeps the session.
    public var sessionExpiryInterval: UInt32
    /// Seconds between control packets; 0 turns keep alive off.
    public var keepAlive: UInt16
    /// The user name sent in CONNECT, if the broker asks for one.
    public var userName: String?
    /// The password sent in CONNECT: bytes, not necessarily text.
    public var password: ByteBuffer?
    /// The message the broker publishes for this client if its connection ends without DISCONNECT.
    public var will: Will?

    /// 5.0: how many QoS 1 and 2 messages the broker may send before this client acknowledges them (nil: 65,535).
    public var receiveMaximum: UInt16?
    /// 5.0: the largest packet this client accepts; larger ones are refused by the broker, not sent.
    public var maximumPacketSize: UInt32?
    /// 5.0: how many topic aliases the broker may use towards this client (0: none).
    public var topicAliasMaximum: UInt16
    /// 5.0: whether publishes use topic aliases when the broker allows them, replacing repeated topic names.
    public var usesTopicAliases: Bool
    /// 5.0: further CONNECT properties, such as user properties or Request Response Information.
    public var connectProperties: Properties

    /// How long the transport, TLS, WebSocket and CONNACK handshakes may take together.
    public var connectTimeout: TimeAmount
    /// How long to wait for PINGRESP after PINGREQ before the connection counts as lost (nil: the keep alive).
    public var pingTimeout: TimeAmount?
    /// Whether, and after what delays, a lost connection is made again; exponential backoff by default.
    public var reconnect: ReconnectPolicy
    /// How many publishes may wait for a connection (or for the broker's Receive Maximum) before `publish`
    /// fails with `MQTTClientError.Code.queueFull`.
    public var maximumQueuedPublishes: Int
    /// How many received messages may wait unread in one subscription or `messages()` stream before the client
    /// stops reading from the broker until the consumer has taken half of them.
    public var messageBufferLimit: Int
    /// Whether QoS 1 and 2 messages are acknowledged (PUBACK, PUBREC) only when `MQTTClient.acknowledge(_:)` is
    /// called with them, rather than on arrival: a message is then not taken from the broker before the
    /// application is done with it, and one not acknowledged when the connection is lost is sent again on the
    /// next connection of a persistent session. Acknowledge in the order the messages arrived (MQTT-4.6.0-2).
    public var acknowledgesManually: Bool
    /// 5.0 enhanced authentication (`SCRAMClientAuthentication`, or another method the broker offers); nil for
    /// none. Ignored with 3.1.1, which has no AUTH packet.
    public var authentication: (any MQTTClientAuthentication)?
    /// Where QoS 1 and 2 publishes are kept until the broker has them, across restarts; nil keeps them in
    /// memory only. See `MQTTClientOutgoingStore`.
    public var outgoingStore: (any MQTTClientOutgoingStore)?
    /// How many QoS 1 and 2 publishes may await acknowledgement at once, at most (mosquitto_pub's `-M`); the
    /// broker's Receive Maximum applies as well. Nil: the broker's alone.
    public var maximumInflightPublishes: Int?

    /// Sees every packet this client sends and receives, in order, on the connection's event loop: for traces
    /// such as mosquitto_pub's `-d`. Nil by default, and then nothing is added to a connection.
    public var packetObserver: (@Sendable (PacketDirection, Packet) -> Void)?
    /// The local address the connection's socket is bound to before connecting (mosquitto's `-A`); nil lets the
    /// system choose.
    public var localAddress: String?
    /// A Unix domain socket to connect to instead of `host` and `port` (mosquitto's `--unix`).
    public var unixSocketPath: String?
    /// A SOCKS5 proxy to reach the broker through; the proxy resolves `host`.
    public var socksProxy: SOCKSProxy?

    /// Which way a packet went, for `packetObserver`.
    public enum PacketDirection: Sendable, Hashable {
        case sent
        case received
    }

    /// A SOCKS5 proxy (RFC 1928) without authentication, as `socks5h://host:port`.
    public struct SOCKSProxy: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 1080) {
            self.host = host
            self.port = port
        }
    }

    /// A configuration with the usual defaults: MQTT 5.0, a random client identifier, a clean start, a 60 s keep
    /// alive, reconnection with exponential backoff. A nil `port` is the transport's default.
    public init(
        host: String = "localhost", port: Int? = nil, transport: Transport = .tcp, tls: TLSConfiguration? = nil,
        protocolVersion: ProtocolVersion = .v5, clientIdentifier: String = MQTTClientConfiguration.randomClientIdentifier(),
        cleanStart: Bool = true, sessionExpiryInterval: UInt32 = 0, keepAlive: UInt16 = 60,
        userName: String? = nil, password: String? = nil, will: Will? = nil
    ) {
        self.host = host
        self.transport = transport
        self.tls = tls
        self.port = port ?? Self.defaultPort(transport: transport, tls: tls != nil)
        self.tlsServerName = nil
        self.protocolVersion = protocolVersion
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.sessionExpiryInterval = sessionExpiryInterval
        self.keepAlive = keepAlive
        self.userName = userName
        self.password = password.map { ByteBuffer(string: $0) }
        self.will = will
        self.receiveMaximum = nil
        self.maximumPacketSize = nil
        self.topicAliasMaximum = 0
        self.usesTopicAliases = true
        self.connectProperties = []
        self.connectTimeout = .seconds(10)
        self.pingTimeout = nil
        self.reconnect = .exponentialBackoff
        self.maximumQueuedPublishes = 1000
        self.messageBufferLimit = 1000
        self.acknowledgesManually = false
        self.maximumInflightPublishes = nil
        self.authentication = nil
        self.outgoingStore = nil
        self.packetObserver = nil
        self.localAddress = nil
        self.unixSocketPath = nil
        self.socksProxy = nil
    }

    /// 1883 for MQTT, 8883 for MQTT over TLS, 80 and 443 for WebSocket without and with TLS.
    public static func defaultPort(transport: Transport, tls: Bool) -> Int {
        switch transport {
        case .tcp: tls ? 8883 : 1883
        case .webSocket: tls ? 443 : 80
        }
    }

    /// A client identifier unlikely to collide with another client's: `starling-` and 12 hexadecimal digits.
    public static func randomClientIdentifier() -> String {
        let value = UInt64.random(in: 0..<(1 << 48))
        let hex = String(value, radix: 16)
        return "starling-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// The CONNECT packet for a connection; `resuming` is true for reconnections after the first success.
    func connectPacket(resuming: Bool) -> ConnectPacket {
        var properties = connectProperties
        var cleanStart = cleanStart
        if protocolVersion == .v5 {
            if sessionExpiryInterval > 0 {
                properties.set(.sessionExpiryInterval(sessionExpiryInterval))
                // The session outlives the connection, so a reconnection resumes it rather than starting afresh.
                if resuming { cleanStart = false }
            }
            if let receiveMaximum { properties.set(.receiveMaximum(receiveMaximum)) }
            if let maximumPacketSize { properties.set(.maximumPacketSize(maximumPacketSize)) }
            if topicAliasMaximum > 0 { properties.set(.topicAliasMaximum(topicAliasMaximum)) }
        } else {
            properties = []
        }
        var will = will
        if protocolVersion != .v5 { will?.properties = [] }
        return ConnectPacket(
            protocolVersion: protocolVersion, clientIdentifier: clientIdentifier, cleanStart: cleanStart,
            keepAlive: keepAlive, userName: userName, password: password, will: will, properties: properties)
    }
}
