import MQTT

/// Where a connection's enhanced authentication stands (4.12).
enum AuthenticationStage {
    case idle
    /// The authenticator is deciding on request number `serial`.
    case deciding(serial: UInt64, request: AuthenticationRequest)
    /// AUTH 0x18 went out; the client's AUTH 0x18 will be step `step` of the exchange.
    case awaitingClient(step: Int)
}

/// The rules of the enhanced authentication exchange (4.12, 4.12.1): which packets a client may send between
/// CONNECT and CONNACK, and which AUTH packets once connected. Plain values, tested from tables
/// (`AuthenticationExchangeTests`); the connection asks the authenticator and keeps the time.
enum AuthenticationExchange {
    /// What a packet between CONNECT and CONNACK leads to.
    enum BeforeConnAck: Equatable {
        /// The client's answer: ask the authenticator, as step `step`.
        case ask(step: Int)
        /// The client gave up (DISCONNECT): close.
        case close
        /// Refuse the CONNECT with this reason.
        case refuse(ReasonCode, reasonString: String)
    }

    /// - Parameter method: the Authentication Method of the CONNECT, if it named one.
    static func beforeConnAck(_ packet: Packet, stage: AuthenticationStage, method: String?) -> BeforeConnAck {
        switch packet {
        case .auth(let auth):
            guard case .awaitingClient(let step) = stage else {
                return .refuse(.protocolError, reasonString: "AUTH out of turn")
            }
            guard auth.reasonCode == .continueAuthentication else {
                // MQTT-4.12.0-3: the client answers AUTH with Continue authentication.
                return .refuse(.protocolError, reasonString: "AUTH before CONNACK must be Continue authentication")
            }
            guard let method, auth.properties.authenticationMethod?.hasSameBytes(as: method) == true else {
                // MQTT-4.12.0-5.
                return .refuse(.protocolError, reasonString: "Authentication Method differs from the CONNECT's")
            }
            return .ask(step: step)
        case .disconnect:
            return .close
        default:
            return .refuse(.protocolError, reasonString: "only AUTH may follow CONNECT before CONNACK")
        }
    }

    /// What an AUTH from a connected client leads to.
    enum WhenConnected: Equatable {
        /// The start (step 1) or a step of re-authentication: ask the authenticator. Other packets keep flowing
        /// meanwhile; the connection stays authenticated as before until the outcome.
        case ask(step: Int)
        /// A Protocol Error: DISCONNECT with this reason.
        case disconnect(ReasonCode, reasonString: String)
    }

    static func whenConnected(_ auth: AuthPacket, stage: AuthenticationStage, method: String?) -> WhenConnected {
        guard let method else {
            // MQTT-4.12.0-7: a client that named no method in CONNECT sends no AUTH.
            return .disconnect(.protocolError, reasonString: "AUTH without an authentication method")
        }
        guard auth.properties.authenticationMethod?.hasSameBytes(as: method) == true else {
            // MQTT-4.12.1-1, MQTT-4.12.0-5: the method stays the one of CONNECT.
            return .disconnect(.protocolError, reasonString: "Authentication Method differs from the CONNECT's")
        }
        switch (auth.reasonCode, stage) {
        case (.reAuthenticate, .idle):
            return .ask(step: 1)
        case (.continueAuthentication, .awaitingClient(let next)):
            return .ask(step: next)
        default:
            return .disconnect(.protocolError, reasonString: "AUTH \(auth.reasonCode) out of turn")
        }
    }
}
