import MQTT

/// The life of one connection as the protocol sees it: which packets belong in which state (3.1.0, 4.12, 4.13),
/// what a broken rule is answered with, and the steps from CONNECT to closed. Plain values: the handler asks it
/// what to do and does it (decoding, writing, closing), so its rules are tested without a socket
/// (`ConnectionStateMachineTests`).
struct ConnectionStateMachine {
    enum State: Equatable {
        case awaitingConnect
        /// CONNECT received: its checks, the pre-connect hook or the authenticator are deciding, or the client's
        /// next AUTH is awaited.
        case authenticating
        /// Let in; the session is being set up (maybe taken over from another loop).
        case connecting
        case connected
        /// Another connection took the session over; closing must not touch it.
        case takenOver
        case closed
    }

    private(set) var state = State.awaitingConnect
    /// The client's protocol version, from its CONNECT (or from a CONNECT refused for it).
    private(set) var version = ProtocolVersion.v3_1_1
    /// The client ended the connection with a DISCONNECT that discards its will (MQTT-3.14.4-3).
    private(set) var willDiscarded = false

    /// What the connection does with a packet it decoded.
    enum Dispatch: Equatable {
        /// The client's CONNECT: negotiate.
        case connect
        /// Between CONNECT and CONNACK: the authentication exchange's rules apply (4.12).
        case authenticationExchange
        /// A connected client's packet: handle it by kind.
        case connected
        /// Nothing arrives while the session is being set up (decoding is paused), nor after the connection ends.
        case ignore
        /// Close without a word (MQTT-3.1.0-1: the first packet must be CONNECT).
        case close
        /// A Protocol Error: DISCONNECT with this reason (5.0), then close.
        case disconnect(ReasonCode, reasonString: String)
    }

    func dispatch(_ packet: Packet) -> Dispatch {
        switch state {
        case .awaitingConnect:
            if case .connect = packet { return .connect }
            return .close
        case .authenticating:
            return .authenticationExchange
        case .connected:
            switch packet {
            case .connect:
                // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
                return .disconnect(.protocolError, reasonString: "second CONNECT")
            case .connAck, .subAck, .unsubAck, .pingResp:
                return .disconnect(.protocolError, reasonString: "packet sent only by servers")
            default:
                return .connected
            }
        case .connecting, .takenOver, .closed:
            return .ignore
        }
    }

    /// How a connection is told it is being closed for a reason.
    enum Closing: Equatable {
        /// Send DISCONNECT with the reason; for a failure, close only the sending side first, so that the client
        /// reads why before a reset could destroy it.
        case disconnect(ReasonCode, lingering: Bool)
        /// Close; 3.1.1 has no way to say why, and before CONNACK the reason goes in a refusal instead.
        case close
        /// Already closed.
        case none
    }

    func closing(reason: ReasonCode) -> Closing {
        switch state {
        case .closed:
            .none
        case .connected, .connecting:
            version == .v5 ? .disconnect(reason, lingering: reason.isFailure) : .close
        case .awaitingConnect, .authenticating, .takenOver:
            .close
        }
    }

    /// What answers bytes that break the protocol (4.13).
    enum ViolationAnswer: Equatable {
        /// CONNACK with this reason, then close lingering (MQTT-3.2.2-2 and 4.13.1 before a session exists).
        case connAck(ReasonCode)
        /// Refuse the pending CONNECT with this reason.
        case refuse(ReasonCode)
        /// DISCONNECT with this reason, then close lingering.
        case disconnect(ReasonCode)
        /// Close lingering without a word.
        case close
    }

    /// - Parameter connectProtocolLevel: when the bytes were meant as a CONNECT, the protocol level they name.
    mutating func protocolViolation(_ error: MQTTError, connectProtocolLevel: UInt8?) -> ViolationAnswer {
        switch state {
        case .awaitingConnect:
            if case .unsupportedProtocolVersion(let level) = error.kind {
                // MQTT-3.1.2-2: answer 0x01 (3.1.1) / 0x84 (5.0), then close.
                version = level >= 5 ? .v5 : .v3_1_1
                return .connAck(level >= 5 ? .unsupportedProtocolVersion : ConnectReturnCode.unacceptableProtocolVersion.reasonCode)
            }
            if connectProtocolLevel == ProtocolVersion.v5.rawValue {
                version = .v5
                return .connAck(error.reasonCode)
            }
            return .close
        case .authenticating:
            // Before CONNACK a refusal is the only way to tell the client why.
            return .refuse(error.reasonCode)
        case .connected, .connecting:
            return version == .v5 ? .disconnect(error.reasonCode) : .close
        case .takenOver, .closed:
            return .close
        }
    }

    /// CONNECT arrived: from now on the connection counts against `maximumConnections`.
    mutating func connectReceived(version: ProtocolVersion) {
        precondition(state == .awaitingConnect)
        self.version = version
        state = .authenticating
    }

    /// The client is let in: its session is being set up.
    mutating func admitted() {
        if state == .authenticating { state = .connecting }
    }

    /// The session is set up; false if the connection closed meanwhile.
    mutating func sessionAttached() -> Bool {
        guard state == .connecting else { return false }
        state = .connected
        return true
    }

    /// Another connection took the session over (MQTT-3.1.4-3).
    mutating func takenOver() {
        if state == .connected { state = .takenOver }
    }

    /// What a client's DISCONNECT leads to.
    enum Disconnection: Equatable {
        /// Close; the session's expiry becomes `expiryInterval` when the client set one.
        case close(expiryInterval: UInt32?)
        /// A Protocol Error: DISCONNECT with this reason, then close.
        case disconnect(ReasonCode, reasonString: String)
    }

    /// The client sent DISCONNECT: its will goes unless the reason is 0x04 Disconnect with Will Message
    /// (MQTT-3.14.4-3), and a 5.0 client may change the session's expiry, within the rules of MQTT-3.14.2-2.
    mutating func receiveDisconnect(_ packet: DisconnectPacket, sessionExpiryInterval: UInt32) -> Disconnection {
        var expiry: UInt32?
        if version == .v5, let requested = packet.properties.sessionExpiryInterval {
            // A session that was to end with the connection cannot be given an expiry now.
            guard sessionExpiryInterval != 0 || requested == 0 else {
                return .disconnect(.protocolError, reasonString: "Session Expiry Interval was 0 in CONNECT")
            }
            expiry = requested
        }
        willDiscarded = packet.reasonCode != .disconnectWithWillMessage
        return .close(expiryInterval: expiry)
    }

    /// The connection is over; returns the state it was in, nil if it was over already.
    mutating func ended() -> State? {
        guard state != .closed else { return nil }
        defer { state = .closed }
        return state
    }
}

extension ConnectionStateMachine.State {
    /// Whether the connection counts against `maximumConnections`: from CONNECT until it ends.
    var countsAsConnection: Bool {
        switch self {
        case .awaitingConnect, .closed: false
        case .authenticating, .connecting, .connected, .takenOver: true
        }
    }
}
