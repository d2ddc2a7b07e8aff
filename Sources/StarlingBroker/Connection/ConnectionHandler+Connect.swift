import Logging
import MQTT
import NIOCore

/// CONNECT, session set-up and take-over, and what happens to a session when its connection ends.
extension ConnectionHandler {
    func handleConnect(_ connect: ConnectPacket) {
        // The connect deadline is met; the keep alive, if any, is watched from CONNACK on.
        loop.deadlineWheel.remove(self)
        version = connect.protocolVersion
        let limits = core.configuration.limits
        let v5 = version == .v5
        if v5 {
            // Known before any answer, refusals included, is shaped by them.
            if let maximum = connect.properties.maximumPacketSize { clientMaximumPacketSize = Int(maximum) }
            problemInformation = connect.properties.requestProblemInformation ?? true
        }

        counted = true
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

        var clientIdentifier = connect.clientIdentifier
        var assignedIdentifier: String?
        if clientIdentifier.isEmpty {
            // MQTT-3.1.3-7/-8: 3.1.1 assigns an identifier only with Clean Session; 3.1 never does.
            guard version == .v5 || (version == .v3_1_1 && connect.cleanStart) else {
                refuse(.clientIdentifierNotValid, reasonString: "empty client identifier")
                return
            }
            clientIdentifier = Self.makeClientIdentifier()
            assignedIdentifier = clientIdentifier
        }
        guard clientIdentifier.utf8.count <= limits.maximumClientIdentifierLength else {
            refuse(.clientIdentifierNotValid, reasonString: "client identifier longer than \(limits.maximumClientIdentifierLength) bytes")
            return
        }
        if let will = connect.will {
            do {
                try TopicName.validate(will.topic, limits: limits.topicLimits)
            } catch {
                refuse(.topicNameInvalid, reasonString: "invalid will topic")
                return
            }
            if will.properties.payloadFormatIndicator == 1 && !will.payload.isValidUTF8 {
                refuse(.payloadFormatInvalid, reasonString: "will payload is not UTF-8 as its Payload Format Indicator says")
                return
            }
            if will.retain && !core.configuration.retainAvailable {
                // MQTT-3.2.2-13: a retained will needs retained messages.
                refuse(.retainNotSupported, reasonString: "retained messages are not available")
                return
            }
            if will.qos > core.configuration.maximumQoS {
                // MQTT-3.2.2-12: a will QoS above the Maximum QoS.
                refuse(.qosNotSupported, reasonString: "will QoS above the Maximum QoS \(core.configuration.maximumQoS.rawValue)")
                return
            }
        }

        var keepAlive = connect.keepAlive
        var serverKeepAlive: UInt16?
        if limits.maximumKeepAlive < UInt16.max, keepAlive == 0 || keepAlive > limits.maximumKeepAlive {
            // 5.0 clients are told the keep alive to use (MQTT-3.2.2-21); 3.1.1 has no way to, so, as Mosquitto
            // does, they are refused.
            guard v5 else {
                refuse(.clientIdentifierNotValid)
                return
            }
            keepAlive = limits.maximumKeepAlive
            serverKeepAlive = keepAlive
        }

        var receiveMaximum = UInt16.max
        if v5 {
            let properties = connect.properties
            if properties.authenticationData != nil && properties.authenticationMethod == nil {
                // 3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
                refuse(.protocolError, reasonString: "Authentication Data without an Authentication Method")
                return
            }
            if properties.authenticationMethod != nil && core.authenticator == nil {
                // No enhanced authentication method is configured (MQTT-4.12.0-1).
                refuse(.badAuthenticationMethod, reasonString: "no enhanced authentication method is supported")
                return
            }
            receiveMaximum = properties.receiveMaximum ?? UInt16.max
            if let maximum = properties.topicAliasMaximum, maximum > 0, limits.maximumOutboundTopicAliases > 0 {
                outgoingAliases = OutgoingTopicAliases(capacity: min(maximum, limits.maximumOutboundTopicAliases))
            }
        }
        let expiryInterval: UInt32 = v5 ? (connect.properties.sessionExpiryInterval ?? 0) : (connect.cleanStart ? 0 : UInt32.max)

        loggedClientIdentifier = clientIdentifier
        let setup = SessionSetup(
            connect: connect, clientIdentifier: clientIdentifier, assignedIdentifier: assignedIdentifier,
            keepAlive: keepAlive, serverKeepAlive: serverKeepAlive, expiryInterval: expiryInterval,
            sendWindow: min(limits.maximumInflight, Int(receiveMaximum)), userName: connect.userName)
        admit(setup)
    }

    struct SessionSetup {
        var connect: ConnectPacket
        var clientIdentifier: String
        var assignedIdentifier: String?
        var keepAlive: UInt16
        var serverKeepAlive: UInt16?
        var expiryInterval: UInt32
        var sendWindow: Int
        /// 5.0: the authenticator's last Authentication Data, sent in CONNACK.
        var authenticationData: ByteBuffer?
        /// Who the client is for the ACL and the hooks: the CONNECT's User Name, or the one the authenticator named.
        var userName: String?
    }

    /// Finds or creates the session for the client, once every earlier connection of the same client identifier
    /// has done so: two CONNECTs at once on different loops would otherwise both take the session over from
    /// the same state, and both keep it.
    func acquireSession(_ setup: SessionSetup) {
        let clientIdentifier = ExactString(setup.clientIdentifier)
        let turn = loop.eventLoop.makePromise(of: Void.self)
        let core = self.core
        let earlier = core.sessionTurns.withLockedValue { turns -> EventLoopFuture<Void>? in
            defer { turns[clientIdentifier] = turn.futureResult }
            return turns[clientIdentifier]
        }
        turn.futureResult.whenComplete { _ in
            core.sessionTurns.withLockedValue { turns in
                if turns[clientIdentifier] === turn.futureResult { turns.removeValue(forKey: clientIdentifier) }
            }
        }
        guard let earlier else {
            takeSession(setup, turn: turn)
            return
        }
        earlier.hop(to: loop.eventLoop).assumeIsolated().whenComplete { [self] _ in
            takeSession(setup, turn: turn)
        }
    }

    /// Takes the client's session over from another connection if it has one, and completes `turn` once this
    /// connection holds it.
    private func takeSession(_ setup: SessionSetup, turn: EventLoopPromise<Void>) {
        let clientIdentifier = setup.clientIdentifier
        let cleanStart = setup.connect.cleanStart
        let loop = self.loop
        let core = self.core
        let maximumSessions = core.configuration.limits.maximumSessions
        let key = ExactString(clientIdentifier)
        let found = core.sessions.withLockedValue { sessions -> (Session, Session?)? in
            let previous = sessions[key]
            if let previous, !cleanStart { return (previous, previous) }
            if previous == nil && sessions.count >= maximumSessions { return nil }
            let fresh = core.makeSession(clientIdentifier, on: loop)
            sessions[key] = fresh
            return (fresh, previous)
        }
        guard let (session, previous) = found else {
            // Sessions of clients that are away count too: without a bound, new client identifiers could fill memory.
            logger.warning("session limit reached; connection refused", metadata: ["limit": "\(maximumSessions)"])
            refuse(.quotaExceeded, reasonString: "the broker holds its maximum of \(maximumSessions) sessions")
            turn.succeed()
            return
        }
        guard let previous else {
            attach(session, present: false, setup: setup)
            turn.succeed()
            return
        }
        let resume = session === previous
        let previousLoop = core.loops[previous.homeIndex.load(ordering: .acquiring)]
        previousLoop.eventLoop.submit { () -> Bool in
            // A session that ends with its connection (3.1.1 Clean Session 1, 5.0 expiry 0) is not resumed by
            // the connection that takes it over, even without Clean Start (MQTT-3.1.2-6, MQTT-3.2.2-3).
            let resume = resume && previous.expiryInterval > 0
            previous.connection?.takeOver(resuming: resume)
            guard previous.isAlive else { return false }
            guard resume else {
                core.endSession(previous, loop: previousLoop)
                return false
            }
            // The client is back in time: its pending will is not sent (MQTT-3.1.3-9) and the session stays.
            previous.connection = nil
            // Its congestion and the timer watching it stay on this loop, which is letting go of the session.
            previous.relieveCongestion(loop: previousLoop)
            previous.expiryTask?.cancel()
            previous.expiryTask = nil
            previous.willTask?.cancel()
            previous.willTask = nil
            previous.will = nil
            // What the old loop recorded for the session reaches the store before what the new loop will.
            previousLoop.storage?.handOff()
            previous.homeIndex.store(loop.index, ordering: .releasing)
            return true
        }.hop(to: loop.eventLoop).assumeIsolated().whenComplete { [self] result in
            let resumed = (try? result.get()) ?? false
            if resume && !resumed {
                // The session ended while the take-over was under way: start a fresh one.
                let fresh = core.makeSession(clientIdentifier, on: loop)
                core.sessions.withLockedValue { sessions in
                    if sessions[key] == nil || sessions[key] === previous {
                        sessions[key] = fresh
                    }
                }
                attach(fresh, present: false, setup: setup)
            } else {
                attach(session, present: resumed, setup: setup)
            }
            turn.succeed()
        }
    }

    private func attach(_ session: Session, present: Bool, setup: SessionSetup) {
        session.version = version
        session.expiryInterval = setup.expiryInterval
        session.will = setup.connect.will
        session.sendWindow = max(1, setup.sendWindow)
        self.session = session
        recordAttached(session)
        guard state == .connecting else {
            // The socket closed while the session was being set up.
            sessionEnded(session)
            return
        }
        session.connection = self
        state = .connected
        setUpGuards(setup)
        watchIdleness(keepAlive: setup.keepAlive > 0 ? .milliseconds(Int64(setup.keepAlive) * 1_500) : nil)
        var properties: Properties = []
        if version == .v5 {
            let limits = core.configuration.limits
            if let assigned = setup.assignedIdentifier { properties.append(.assignedClientIdentifier(assigned)) }
            if let keepAlive = setup.serverKeepAlive { properties.append(.serverKeepAlive(keepAlive)) }
            if let method = authenticationMethod {
                // MQTT-4.12.0-5: a successful CONNACK repeats the method.
                properties.append(.authenticationMethod(method))
                if let data = setup.authenticationData { properties.append(.authenticationData(data)) }
            }
            properties.append(.receiveMaximum(limits.receiveMaximum))
            properties.append(.maximumPacketSize(UInt32(clamping: limits.maximumPacketSize)))
            if limits.topicAliasMaximum > 0 { properties.append(.topicAliasMaximum(limits.topicAliasMaximum)) }
            // Each capability is announced only when off: absent means available (3.2.2.3.4, .5, .11 to .13).
            let configuration = core.configuration
            if configuration.maximumQoS < .exactlyOnce { properties.append(.maximumQoS(configuration.maximumQoS)) }
            if !configuration.retainAvailable { properties.append(.retainAvailable(false)) }
            if !configuration.wildcardSubscriptionAvailable { properties.append(.wildcardSubscriptionAvailable(false)) }
            if !configuration.subscriptionIdentifiersAvailable { properties.append(.subscriptionIdentifiersAvailable(false)) }
            if !configuration.sharedSubscriptionAvailable { properties.append(.sharedSubscriptionAvailable(false)) }
            if setup.connect.properties.requestResponseInformation == true, let information = core.configuration.responseInformation {
                properties.append(.responseInformation(information))
            }
        }
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
            if delay == 0 || !resuming { core.publishWill(of: session, loop: loop) }
        }
        flushOutput()
        state = .takenOver
        close()
        logger.info("session taken over by a new connection")
    }

    /// The connection of `session` is gone: publish or schedule the will, then end or keep the session.
    func sessionEnded(_ session: Session) {
        session.connection = nil
        if core.eventSink.isListening { core.eventSink.emit(.disconnected(observedClient(session))) }
        let core = self.core
        let loop = self.loop
        if disconnectedNormally {
            // MQTT-3.1.2-10: a normal DISCONNECT deletes the will.
            if session.will != nil {
                session.will = nil
                recordWill(nil, session: session)
            }
        } else if let will = session.will {
            let delay = session.version == .v5 ? (will.properties.willDelayInterval ?? 0) : 0
            if delay == 0 || session.expiryInterval == 0 {
                core.publishWill(of: session, loop: loop)
            } else {
                // 3.1.3.2.2: the will waits for the earlier of its delay and the end of the session.
                let wait = min(delay, session.expiryInterval)
                // Stored as a wall-clock time, so that the wait goes on counting across a restart.
                recordWill(StoredWill(will, publishAt: WallClockTime.now().adding(milliseconds: Int64(wait) * 1_000)), session: session)
                session.willTask = loop.eventLoop.scheduleTask(in: .seconds(Int64(wait))) {
                    session.willTask = nil
                    core.publishWill(of: session, loop: loop)
                }
            }
        }
        recordDetached(session)
        if session.expiryInterval == 0 {
            core.endSession(session, loop: loop)
            return
        }
        loop.handOverSharedDeliveries(of: session)
        if session.expiryInterval != UInt32.max {
            session.expiryTask = loop.eventLoop.scheduleTask(in: .seconds(Int64(session.expiryInterval))) {
                core.endSession(session, loop: loop)
            }
        }
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
