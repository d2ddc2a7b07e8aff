import Logging
import MQTT
import NIOCore

/// CONNECT, session set-up and take-over, and what happens to a session when its connection ends.
extension ConnectionHandler {
    func handleConnect(_ connect: ConnectPacket) {
        // The connect deadline is met; the keep alive, if any, is watched from CONNACK on.
        loop.deadlineWheel.remove(self)
        machine.connectReceived(version: connect.protocolVersion)
        let limits = core.configuration.limits
        let v5 = version == .v5
        if v5 {
            // Known before any answer, refusals included, is shaped by them.
            if let maximum = connect.properties.maximumPacketSize { clientMaximumPacketSize = Int(maximum) }
            problemInformation = connect.properties.requestProblemInformation ?? true
        }

        if core.connectionCount.wrappingIncrementThenLoad(ordering: .relaxed) > limits.maximumConnections {
            logger.warning("refusing connection: maximum connections reached", metadata: ["maximum": "\(limits.maximumConnections)"])
            refuse(v5 ? .serverBusy : .serverUnavailable, reasonString: "too many connections")
            return
        }
        if let limiter = core.connectionRate, !limiter.take(remoteAddress) {
            logger.warning("refusing connection: too many connections from this address", metadata: ["limit": "\(limits.connectionRatePerAddress!)"])
            refuse(.connectionRateExceeded, reasonString: "too many connections from this address")
            return
        }

        var connect = connect
        if userNameFromCertificate {
            guard let commonName = clientCertificate?.commonName else {
                refuse(.notAuthorized, reasonString: "a client certificate with a Common Name is required")
                return
            }
            connect.userName = commonName
        }

        let terms: ConnectNegotiation.Terms
        switch core.connectNegotiation.negotiate(connect, makeClientIdentifier: Self.makeClientIdentifier) {
        case .accept(let accepted):
            terms = accepted
        case .refuse(let reason, let why):
            refuse(reason, reasonString: why)
            return
        }
        if let capacity = terms.outgoingTopicAliases { outgoingAliases = OutgoingTopicAliases(capacity: capacity) }
        loggedClientIdentifier = terms.clientIdentifier
        admit(SessionSetup(connect: connect, terms: terms))
    }

    /// A CONNECT on its way to a session: the negotiated terms, then what authentication adds.
    struct SessionSetup {
        var connect: ConnectPacket
        var terms: ConnectNegotiation.Terms
        var clientIdentifier: String
        var assignedIdentifier: String?
        /// 5.0: the authenticator's last Authentication Data, sent in CONNACK.
        var authenticationData: ByteBuffer?
        /// Who the client is for the ACL and the hooks: the CONNECT's User Name, or the one the authenticator named.
        var userName: String?

        init(connect: ConnectPacket, terms: ConnectNegotiation.Terms) {
            self.connect = connect
            self.terms = terms
            clientIdentifier = terms.clientIdentifier
            assignedIdentifier = terms.assignedIdentifier
            userName = connect.userName
        }
    }

    /// Claims the client's session from the registry, then attaches it or refuses the client.
    func acquireSession(_ setup: SessionSetup) {
        core.sessions.claim(setup.clientIdentifier, cleanStart: setup.connect.cleanStart, on: loop) { [self] claim in
            switch claim {
            case .granted(let session, let present):
                attach(session, present: present, setup: setup)
            case .refused(let maximumSessions):
                logger.warning("session limit reached; connection refused", metadata: ["limit": "\(maximumSessions)"])
                refuse(.quotaExceeded, reasonString: "the broker holds its maximum of \(maximumSessions) sessions")
            }
        }
    }

    private func attach(_ session: Session, present: Bool, setup: SessionSetup) {
        session.version = version
        session.expiryInterval = setup.terms.expiryInterval
        session.will = setup.connect.will
        session.sendWindow = setup.terms.sendWindow
        self.session = session
        session.recordAttached(in: loop.storeChanges)
        guard machine.sessionAttached() else {
            // The socket closed while the session was being set up.
            sessionEnded(session)
            return
        }
        session.connection = self
        setUpGuards(setup)
        watchIdleness(keepAlive: setup.terms.keepAlive > 0 ? .milliseconds(Int64(setup.terms.keepAlive) * 1_500) : nil)
        let properties = version == .v5 ? core.connectNegotiation.connAckProperties(
            setup.terms, assignedIdentifier: setup.assignedIdentifier,
            requestResponseInformation: setup.connect.properties.requestResponseInformation == true,
            authenticationMethod: authenticationMethod, authenticationData: setup.authenticationData) : []
        // 3.1 has no Session Present flag: the byte is reserved, 0.
        send(.connAck(ConnAckPacket(sessionPresent: present && version != .v3_1, reasonCode: .success, properties: properties)))
        // Checked first: the connection's logger is made for each line, and this one is usually filtered out.
        if core.logger.logLevel <= .debug {
            logger.debug("client connected", metadata: ["version": "\(version)", "session-present": "\(present)"])
        }
        if core.eventSink.isListening { core.eventSink.emit(.connected(observedClient(session))) }
        session.resume()
        resume()
        loop.flush()
    }

    /// Answers CONNECT with a refusal and closes (MQTT-3.2.2-6: Session Present 0 on refusals). A 3.1 or 3.1.1
    /// client refused for something its version has no return code for only sees the connection close.
    func refuse(_ reason: ReasonCode, reasonString: String? = nil, properties extra: Properties = []) {
        logger.info("connection refused", metadata: ["reason": "\(reason)"])
        guard let code = version == .v5 ? reason : reason.connectReturnCode?.reasonCode else {
            close()
            return
        }
        var properties: Properties = []
        if version == .v5 {
            properties = extra
            if let reasonString { properties.append(.reasonString(reasonString)) }
        }
        send(.connAck(ConnAckPacket(sessionPresent: false, reasonCode: code, properties: properties)))
        close()
    }

    /// Another connection took this one's session (MQTT-3.1.4-3): tell a 5.0 client, then close.
    func takeOver(resuming: Bool) {
        guard state == .connected, let session else { return }
        if version == .v5 { send(.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))) }
        // The will goes out now unless the new connection resumes the session within the Will Delay Interval.
        if let will = session.will {
            let delay = version == .v5 ? (will.properties.willDelayInterval ?? 0) : 0
            if delay == 0 || !resuming { core.sessions.publishWill(of: session, loop: loop) }
        }
        flushOutput()
        machine.takenOver()
        // Reported before the new connection's `clientConnected`, as the close that ends this one.
        if core.eventSink.isListening { core.eventSink.emit(.disconnected(observedClient(session))) }
        close()
        logger.info("session taken over by a new connection")
    }

    /// The connection of `session` is gone: the registry publishes or schedules the will, then ends or keeps
    /// the session.
    func sessionEnded(_ session: Session) {
        session.connection = nil
        if core.eventSink.isListening { core.eventSink.emit(.disconnected(observedClient(session))) }
        core.sessions.connectionLost(session, willDiscarded: machine.willDiscarded, loop: loop)
    }

    private static func makeClientIdentifier() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return "starling-" + String(high, radix: 36) + String(low, radix: 36)
    }
}

extension ByteBuffer {
    /// Whether the readable bytes are well-formed UTF-8 (for Payload Format Indicator 1).
    var isValidUTF8: Bool {
        withUnsafeReadableBytes { String(validating: $0, as: UTF8.self) != nil }
    }
}
