import Logging
import MQTT
import NIOCore

/// A session's bond with a connection: made when the registry grants a CONNECT its session (then CONNACK goes
/// out), broken when the connection ends or another connection takes the session over (MQTT-3.1.4-3).
enum SessionAttachment {
    /// Attaches the session the registry granted, sets up the connection's guards and keep alive, and answers
    /// CONNACK; the client's packets are read again.
    static func attach(_ session: Session, present: Bool, setup: SessionSetup, to connection: ConnectionHandler) {
        let version = connection.version
        let loop = connection.loop
        session.version = version
        session.expiryInterval = setup.terms.expiryInterval
        connection.connectedAt = UInt32(clamping: WallClockTime.now().millisecondsSinceEpoch / 1_000)
        session.will = setup.connect.will
        session.sendWindow = setup.terms.sendWindow
        let core = connection.core
        if setup.isClusterLink {
            // Another node's link: each of its acknowledgements waits for a commit on that node, so a window of
            // `maximumInflight` would pace the whole cluster's traffic by that node's commits. As much as it takes.
            session.sendWindow = max(setup.terms.sendWindow, Int(setup.connect.properties.receiveMaximum ?? UInt16.max))
        } else if core.hasWiderSendWindows.load(ordering: .relaxed),
            let wider = core.widerSendWindows.withLockedValue({ $0[ExactString(setup.clientIdentifier)] })
        {
            // Still within what the client said it can take (Receive Maximum, MQTT-3.3.4-9).
            let receiveMaximum = version == .v5 ? Int(setup.connect.properties.receiveMaximum ?? UInt16.max) : Int(UInt16.max)
            session.sendWindow = max(setup.terms.sendWindow, min(wider, receiveMaximum))
        }
        connection.session = session
        session.recordAttached(in: loop.storeChanges, keepingWill: core.hooks.cluster != nil)
        guard connection.machine.sessionAttached() else {
            // The socket closed while the session was being set up.
            detach(session, from: connection)
            return
        }
        session.connection = connection
        if present { loop.counters.sessionOutcomes.resumed &+= 1 } else { loop.counters.sessionOutcomes.created &+= 1 }
        setUpGuards(setup, on: connection)
        connection.watchIdleness(keepAlive: setup.terms.silenceTimeout)
        let properties = version == .v5 ? core.connectNegotiation.connAckProperties(
            setup.terms, assignedIdentifier: setup.assignedIdentifier,
            requestResponseInformation: setup.connect.properties.requestResponseInformation == true,
            authenticationMethod: connection.authentication?.method, authenticationData: setup.authenticationData) : []
        // 3.1 has no Session Present flag: the byte is reserved, 0.
        connection.send(.connAck(ConnAckPacket(sessionPresent: present && version != .v3_1, reasonCode: .success, properties: properties)))
        // Checked first: the connection's logger is made for each line, and this one is usually filtered out.
        if core.logger.logLevel <= .debug {
            connection.logger.debug("client connected", metadata: ["version": "\(version)", "session-present": "\(present)"])
        }
        if core.eventSink.isListening { core.eventSink.emit(.connected(connection.observedClient(session))) }
        session.resume()
        connection.resume()
        loop.flush()
    }

    /// The per-connection state of the configured limits, rules and hooks, set when the client is in.
    private static func setUpGuards(_ setup: SessionSetup, on connection: ConnectionHandler) {
        let core = connection.core
        let hooks = core.hooks
        let userName = setup.userName
        // A user name is kept for the admin API; anonymous clients, most of a big fleet, pay nothing.
        if userName != nil || hooks.observer != nil || hooks.publishAuthorizer != nil || hooks.subscribeAuthorizer != nil {
            connection.guardState.clientInfo = ClientInfo(
                clientIdentifier: setup.clientIdentifier, userName: userName, protocolVersion: connection.version,
                remoteAddress: connection.remoteAddress)
        }
        if setup.isClusterLink { return }
        if let control = core.accessControl {
            connection.guardState.access = ConnectionAccess(control: control, userName: userName, clientIdentifier: setup.clientIdentifier)
        }
        let limits = core.configuration.limits
        if let quota = PublishQuota(rate: limits.publishRate, bandwidth: limits.publishBandwidth, now: .now()) {
            connection.guardState.publishQuota = quota
        }
    }

    /// Another connection took the session over (MQTT-3.1.4-3): a 5.0 client is told, then the connection closes.
    static func takeOver(from connection: ConnectionHandler, resuming: Bool) {
        guard connection.state == .connected, let session = connection.session else { return }
        connection.loop.counters.sessionOutcomes.takenOver &+= 1
        let version = connection.version
        let core = connection.core
        if version == .v5 { connection.send(.disconnect(DisconnectPacket(reasonCode: .sessionTakenOver))) }
        // The will goes out now unless the new connection resumes the session within the Will Delay Interval.
        if let will = session.will {
            let delay = version == .v5 ? (will.properties.willDelayInterval ?? 0) : 0
            if delay == 0 || !resuming { core.sessions.publishWill(of: session, loop: connection.loop) }
        }
        connection.flushOutput()
        connection.machine.takenOver()
        // Reported before the new connection's `clientConnected`, as the close that ends this one.
        if core.eventSink.isListening { core.eventSink.emit(.disconnected(connection.observedClient(session))) }
        connection.close()
        connection.logger.info("session taken over by a new connection")
    }

    /// The connection of `session` is gone: the registry publishes or schedules the will, then ends or keeps
    /// the session.
    static func detach(_ session: Session, from connection: ConnectionHandler) {
        session.connection = nil
        let core = connection.core
        if core.eventSink.isListening { core.eventSink.emit(.disconnected(connection.observedClient(session))) }
        core.sessions.connectionLost(session, willDiscarded: connection.machine.willDiscarded, loop: connection.loop)
    }
}
