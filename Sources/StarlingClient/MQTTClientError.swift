import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong in a client operation, with the broker's reason code and reason string when it gave them.
public struct MQTTClientError: Error, CustomStringConvertible {
    /// The message of a connection refused because the server answered in TLS: the port expects TLS.
    public static let tlsExpected = "the server answered with TLS, not MQTT: this port expects a TLS connection"

    /// The kind of failure, to decide what to do about it: retry, fix the configuration, give up.
    public enum Code: Sendable, Hashable {
        /// The configuration or an argument cannot work (bad URL, bad TLS files, …).
        case invalidConfiguration
        /// The transport could not be set up: name resolution, TCP connect, TLS handshake or WebSocket upgrade.
        case connectFailed
        /// The broker answered CONNECT with a failure; see `reasonCode`.
        case connectionRefused
        /// A handshake or an acknowledgement took longer than allowed.
        case timedOut
        /// The connection ended without a DISCONNECT from the broker.
        case connectionLost
        /// The broker sent DISCONNECT (5.0); see `reasonCode`.
        case disconnectedByBroker
        /// The broker did not answer PINGREQ in time.
        case keepAliveTimeout
        /// The broker broke the protocol; the connection was closed.
        case protocolError
        /// The broker refused a publish with a PUBACK or PUBREC failure code; see `reasonCode`.
        case publishRefused
        /// The broker refused every topic filter of a subscribe; see `reasonCodes`.
        case subscriptionRefused
        /// The broker refused an unsubscribe; see `reasonCodes`.
        case unsubscribeRefused
        /// The packet is larger than the broker's Maximum Packet Size (or than MQTT allows).
        case packetTooLarge
        /// The publish needs a QoS or retain the broker said it does not support.
        case notSupportedByBroker
        /// The feature needs MQTT 5.0 and the connection uses 3.1.1.
        case requiresMQTT5
        /// Too many publishes are waiting for a connection.
        case queueFull
        /// A topic name or filter that MQTT does not allow.
        case invalidTopic
        /// The client was shut down (by `disconnect()`, cancellation or a fatal error) before the operation ended.
        case clientShutdown
    }

    /// The kind of failure.
    public var code: Code
    /// What happened, in words.
    public var message: String
    /// The reason code the broker gave (CONNACK, PUBACK, PUBREC or DISCONNECT), if any.
    public var reasonCode: ReasonCode?
    /// Per-filter reason codes of a refused SUBSCRIBE or UNSUBSCRIBE.
    public var reasonCodes: [ReasonCode]
    /// The broker's Reason String property, if it sent one.
    public var reasonString: String?
    /// The error underneath, such as a system or TLS error.
    public var underlying: (any Error)?
    /// Whether `message` already says the reason code, in the words of the protocol version that sent it.
    var messageNamesReasonCode = false

    /// An error of kind `code`, described by `message`, with what the broker said about it, if anything.
    public init(
        _ code: Code, _ message: String, reasonCode: ReasonCode? = nil, reasonCodes: [ReasonCode] = [],
        reasonString: String? = nil, underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.reasonCode = reasonCode
        self.reasonCodes = reasonCodes
        self.reasonString = reasonString
        self.underlying = underlying
    }

    /// The message followed by the reason code, the reason string and the underlying error, where there are any.
    public var description: String {
        var text = message
        if let reasonCode, !messageNamesReasonCode { text += " (reason code \(reasonCode))" }
        if let reasonString, !reasonString.isEmpty { text += ": \(reasonString)" }
        if let underlying { text += ": \(Self.describe(underlying))" }
        return text
    }

    /// System errors in the words of `strerror` ("Connection refused") rather than as nested values.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return describe(first.error) }
            if let lookup = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(lookup)" }
            return "\(error)"
        case let error as MQTTClientError:
            return error.description
        case let error as NIOSSLError:
            return describe(tls: error)
        default:
            return "\(error)"
        }
    }
}

extension MQTTClientError {
    /// A TLS failure in a person's words, with the library's own kept in parentheses.
    private static func describe(tls error: NIOSSLError) -> String {
        let detail = "\(error)"
        if detail.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the broker's certificate is not trusted (certificate verify failed); give its authority with --cafile"
        }
        if case .handshakeFailed = error { return "the TLS handshake with the broker failed (\(detail))" }
        return "TLS error (\(detail))"
    }

    static func refused(_ connAck: ConnAckPacket, version: ProtocolVersion) -> MQTTClientError {
        // Each version's own words: 3.1.1's return codes are not 5.0's reason codes (5 is "not authorized" there).
        let code = connAck.reasonCode
        let meaning: String
        if version == .v5 {
            meaning = "\(ReasonCode.names[code.rawValue] ?? "unknown reason") (reason code \(code.hexadecimal))"
        } else {
            let name = ConnectReturnCode(rawValue: code.rawValue).map(\.meaning) ?? "unknown return code"
            meaning = "\(name) (return code \(code.rawValue))"
        }
        var error = MQTTClientError(
            .connectionRefused, "connection refused by the broker: \(meaning)", reasonCode: code,
            reasonString: connAck.properties.reasonString)
        error.messageNamesReasonCode = true
        return error
    }

    static func disconnected(_ packet: DisconnectPacket) -> MQTTClientError {
        MQTTClientError(
            .disconnectedByBroker, "the broker closed the connection", reasonCode: packet.reasonCode,
            reasonString: packet.properties.reasonString)
    }

    static let shutdown = MQTTClientError(.clientShutdown, "the client was shut down")
    static let lost = MQTTClientError(.connectionLost, "connection lost")

    static func protocolError(_ what: String) -> MQTTClientError {
        MQTTClientError(.protocolError, "protocol error: \(what)")
    }

    /// Whether the same CONNECT could succeed later: refusals that depend on who connects (credentials,
    /// authorisation, identifier, protocol version) cannot.
    var isRetriable: Bool {
        switch code {
        case .connectFailed, .timedOut, .connectionLost, .keepAliveTimeout, .protocolError:
            return true
        case .disconnectedByBroker:
            // Another connection with this client identifier took over: reconnecting would take it back, and the
            // two clients would push each other off for ever.
            return reasonCode != .sessionTakenOver
        case .connectionRefused:
            guard let reasonCode else { return false }
            // 3.1.1 "server unavailable" (3), 5.0 server unavailable/busy/quota/rate, and unspecified failures.
            return [0x03, 0x80, 0x83, 0x88, 0x89, 0x97, 0x9F].contains(reasonCode.rawValue)
        default:
            return false
        }
    }
}

extension ConnectReturnCode {
    var meaning: String {
        switch self {
        case .accepted: "accepted"
        case .unacceptableProtocolVersion: "unacceptable protocol version"
        case .identifierRejected: "identifier rejected"
        case .serverUnavailable: "server unavailable"
        case .badUserNameOrPassword: "bad user name or password"
        case .notAuthorized: "not authorized"
        }
    }
}
