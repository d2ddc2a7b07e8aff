import NIOCore
import NIOSSL

extension BrokerConfiguration {
    /// One address the broker accepts connections on, and how clients there speak to it.
    public struct Listener: Sendable, Hashable {
        /// The address to bind: `0.0.0.0` (the default) or `::` for every interface, `127.0.0.1` for this machine
        /// only, or a host name resolved when the broker starts.
        public var host: String
        /// The TCP port to bind; 1883 by default (8883 is customary for TLS, 8083 or 443 for WebSocket). 0 lets
        /// the system pick a free one: `MQTTBroker`'s `onServerRunning` is told which.
        public var port: Int
        /// What clients speak on this port: plain TCP (the default), TLS, WebSocket or WebSocket over TLS.
        public var transport: Transport
        /// Each connection starts with a PROXY protocol v1 or v2 header from a load balancer, whose client address
        /// then stands for the connection in logs and authentication. A connection without one is closed.
        public var proxyProtocol: Bool
        /// Connections open at once on this listener, counted from accept; further ones are closed at once.
        /// Nil leaves only the broker-wide `Limits.maximumConnections`.
        public var maximumConnections: Int?
        /// TLS listeners: the verified client certificate's Common Name is the client's user name, whatever
        /// CONNECT says; a client without one is refused as not authorized.
        public var userNameFromCertificate: Bool

        /// A listener on `host` and `port`, plain TCP by default, without the PROXY protocol, a limit of its own
        /// or user names taken from certificates.
        public init(
            host: String = "0.0.0.0", port: Int = 1883, transport: Transport = .tcp, proxyProtocol: Bool = false,
            maximumConnections: Int? = nil, userNameFromCertificate: Bool = false
        ) {
            self.host = host
            self.port = port
            self.transport = transport
            self.proxyProtocol = proxyProtocol
            self.maximumConnections = maximumConnections
            self.userNameFromCertificate = userNameFromCertificate
        }

        /// How clients speak MQTT to a listener.
        ///
        /// Two TLS configurations are told apart with NIOSSL's `bestEffortEquals`, which compares callbacks by
        /// identity: equal transports are equal, and the same callbacks given twice may compare unequal.
        public enum Transport: Sendable, Hashable {
            /// MQTT over TCP.
            case tcp
            /// MQTT over TLS. The configuration should set `minimumTLSVersion` to 1.2 or later, and a `trustRoots`
            /// with `certificateVerification` to ask for client certificates.
            case tls(TLSConfiguration)
            /// MQTT over WebSocket (section 6 of both specifications) at an HTTP path such as `/mqtt`.
            case webSocket(path: String)
            /// MQTT over WebSocket over TLS.
            case webSocketTLS(path: String, TLSConfiguration)

            /// Whether both are the same kind with the same WebSocket path and, for TLS, configurations that
            /// NIOSSL's `bestEffortEquals` finds equal.
            public static func == (lhs: Transport, rhs: Transport) -> Bool {
                switch (lhs, rhs) {
                case (.tcp, .tcp): true
                case (.tls(let left), .tls(let right)): left.bestEffortEquals(right)
                case (.webSocket(let left), .webSocket(let right)): left == right
                case (.webSocketTLS(let leftPath, let left), .webSocketTLS(let rightPath, let right)):
                    leftPath == rightPath && left.bestEffortEquals(right)
                default: false
                }
            }

            /// Hashes the kind, the WebSocket path and the TLS configuration (NIOSSL's `bestEffortHash`),
            /// consistently with `==`.
            public func hash(into hasher: inout Hasher) {
                hasher.combine(scheme)
                if let path = webSocketPath { hasher.combine(path) }
                tlsConfiguration?.bestEffortHash(into: &hasher)
            }

            var tlsConfiguration: TLSConfiguration? {
                switch self {
                case .tls(let configuration), .webSocketTLS(_, let configuration): configuration
                case .tcp, .webSocket: nil
                }
            }

            var webSocketPath: String? {
                switch self {
                case .webSocket(let path), .webSocketTLS(let path, _): path
                case .tcp, .tls: nil
                }
            }

            /// The URL scheme clients use, for logs.
            var scheme: String {
                switch self {
                case .tcp: "mqtt"
                case .tls: "mqtts"
                case .webSocket: "ws"
                case .webSocketTLS: "wss"
                }
            }
        }
    }
}

extension BrokerConfiguration.Listener {
    /// The listener as a URL, `mqtts://0.0.0.0:8883` say, with its configured port.
    public var url: String { url(port: port) }

    func url(port: Int) -> String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(transport.scheme)://\(host):\(port)\(transport.webSocketPath ?? "")"
    }
}
