import NIOSSL
import StarlingBroker

/// The operations listener: where it listens, whether over TLS, and who may use it.
public struct OperationsConfiguration: Sendable {
    /// 127.0.0.1 unless told otherwise: beyond this machine, credentials are required.
    public var host: String
    public var port: Int
    /// HTTPS when set.
    public var tls: TLSConfiguration?
    /// A request carrying `Authorization: Bearer TOKEN` with this token is let in.
    public var token: String?
    /// A request carrying HTTP Basic credentials that these users' authenticator accepts is let in (the broker's
    /// password file, say).
    public var users: (any ConnectionAuthenticator)?
    /// The largest request body read (`POST /api/v1/publish`); a larger one gets 413.
    public var maximumBodyBytes: Int
    /// How often the counters are sampled for `GET /api/v1/stats/history`, and how many samples are kept.
    public var historyInterval: Duration
    public var historyLength: Int

    public init(
        host: String = "127.0.0.1", port: Int = 8080, tls: TLSConfiguration? = nil, token: String? = nil,
        users: (any ConnectionAuthenticator)? = nil, maximumBodyBytes: Int = 1 << 20, historyInterval: Duration = .seconds(5),
        historyLength: Int = 120
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.token = token
        self.users = users
        self.maximumBodyBytes = maximumBodyBytes
        self.historyInterval = historyInterval
        self.historyLength = historyLength
    }

    /// Why the listener cannot start as configured; nil when it can.
    public var problem: OperationsConfigurationError? {
        isLoopback || requiresCredentials ? nil : .credentialsRequired(host: host)
    }

    /// Whether requests must carry credentials: whenever a token or users are configured.
    var requiresCredentials: Bool { token != nil || users != nil }

    /// Whether the listener stays on this machine.
    var isLoopback: Bool {
        host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
    }
}

/// The operations listener cannot start as configured.
public enum OperationsConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Bound beyond loopback without a token or users: anybody who reaches the port could manage the broker.
    case credentialsRequired(host: String)

    public var description: String {
        switch self {
        case .credentialsRequired(let host):
            "the HTTP listener on \(host) is reachable beyond this machine: give it an access token (http.token, --http-token, STARLING_HTTP_TOKEN) or users (http.users_from_password_file)"
        }
    }
}
