import Logging
import MQTT
import NIOCore

/// The way from a valid CONNECT to a session: the pre-connect hook, anonymous clients, the failed-login
/// limit, the authenticator and the will's ACL check; then the per-connection guards once it is in.
extension ConnectionHandler {
    func admit(_ setup: SessionSetup) {
        guard let check = core.hooks.preConnect else {
            authenticate(setup)
            return
        }
        let client = ClientInfo(
            clientIdentifier: setup.clientIdentifier, userName: setup.connect.userName, protocolVersion: version,
            remoteAddress: remoteAddress)
        let connect = setup.connect
        runHook("pre-connect check", { try await check.check(client, connect: connect) }) { [self] result in
            guard state == .authenticating else { return }
            switch result {
            case .success(nil):
                authenticate(setup)
            case .success(let reason?):
                refuse(reason.isFailure ? reason : .notAuthorized, reasonString: "refused by the pre-connect check")
            case .failure:
                refuse(.notAuthorized, reasonString: "refused by the pre-connect check")
            }
        }
    }

    private func authenticate(_ setup: SessionSetup) {
        let connect = setup.connect
        // A verified client certificate, a user name or an enhanced authentication method each say who it is.
        let anonymous = connect.userName == nil && clientCertificate == nil
            && (version != .v5 || connect.properties.authenticationMethod == nil)
        if anonymous {
            guard core.anonymousAllowed else {
                logger.warning("anonymous client refused")
                refuse(.notAuthorized, reasonString: "anonymous clients are not allowed")
                return
            }
        } else if core.authenticator != nil {
            // Each attempt takes one of the address's failed logins when it starts and gives it back if it
            // succeeds: counting only finished failures would let any number of guesses run at once.
            if let limiter = core.failedLogins, !limiter.take(remoteAddress) {
                logger.warning("login refused: too many failed logins from this address", metadata: ["user": "\(connect.userName ?? "")"])
                refuse(.connectionRateExceeded, reasonString: "too many failed logins")
                return
            }
            authenticateConnect(setup)
            return
        }
        enter(setup)
    }

    /// Sets up the session of a client that is let in, unless its client identifier is not its user's
    /// (`clientIdentifierBinding`) or the ACL forbids its will (as Mosquitto does).
    func enter(_ setup: SessionSetup) {
        var setup = setup
        guard bindClientIdentifier(&setup) else { return }
        if let control = core.accessControl, let will = setup.connect.will {
            let rules = control.list.rules(userName: setup.userName, clientIdentifier: setup.clientIdentifier)
            guard rules.mayPublish(will.topic) else {
                logger.warning("client refused: its will topic is not writable for it", metadata: ["topic": "\(will.topic)"])
                refuse(.notAuthorized, reasonString: "will topic not allowed")
                return
            }
        }
        machine.admitted()
        pause()
        acquireSession(setup)
    }

    /// Applies `clientIdentifierBinding` to the user name authentication settled on; refuses the client and
    /// returns false when its identifier is not its user's.
    private func bindClientIdentifier(_ setup: inout SessionSetup) -> Bool {
        let binding = core.configuration.clientIdentifierBinding
        guard binding != .unbound else { return true }
        guard let userName = setup.userName else {
            logger.warning("client refused: its client identifier is bound to a user name and it has none")
            refuse(.notAuthorized, reasonString: "a user name is required")
            return false
        }
        guard let identifier = binding.identifier(setup.clientIdentifier, userName: userName) else {
            logger.warning("client refused: its client identifier does not belong to its user", metadata: ["user": "\(userName)"])
            refuse(.clientIdentifierNotValid, reasonString: "the client identifier must be the user name or start with it")
            return false
        }
        if !identifier.utf8.elementsEqual(setup.clientIdentifier.utf8) {
            if setup.assignedIdentifier != nil { setup.assignedIdentifier = identifier }
            setup.clientIdentifier = identifier
            loggedClientIdentifier = identifier
        }
        return true
    }

    /// The per-connection state of the configured limits, rules and hooks, set when the client is in.
    func setUpGuards(_ setup: SessionSetup) {
        let configuration = core.configuration
        let hooks = core.hooks
        let userName = setup.userName
        if hooks.observer != nil || hooks.publishAuthorizer != nil || hooks.subscribeAuthorizer != nil {
            guardState.clientInfo = ClientInfo(
                clientIdentifier: setup.clientIdentifier, userName: userName, protocolVersion: version, remoteAddress: remoteAddress)
        }
        if let control = core.accessControl {
            guardState.access = ConnectionAccess(control: control, userName: userName, clientIdentifier: setup.clientIdentifier)
        }
        if let quota = PublishQuota(rate: configuration.limits.publishRate, bandwidth: configuration.limits.publishBandwidth, now: .now()) {
            guardState.publishQuota = quota
        }
    }

    /// Checks a PUBLISH against the payload size, the rate limits and the ACL; answers it and returns false if
    /// one of them refuses it.
    func admitPublish(_ publish: PublishPacket, topic: String, session: Session) -> Bool {
        let limits = core.configuration.limits
        if let maximum = limits.maximumPayloadSize, publish.payload.readableBytes > maximum {
            refusePublish(publish, session: session, reason: .quotaExceeded, why: "payload larger than \(maximum) bytes", topic: topic)
            return false
        }
        if guards?.publishQuota?.admit(payloadBytes: publish.payload.readableBytes, now: .now()) == false {
            refusePublish(publish, session: session, reason: .quotaExceeded, why: "publish rate limit exceeded", topic: topic)
            return false
        }
        if guards?.access?.mayPublish(topic) == false {
            refusePublish(publish, session: session, reason: .notAuthorized, why: "not allowed to publish to this topic", topic: topic)
            return false
        }
        return true
    }

    /// Refuses a PUBLISH: 5.0 says so in PUBACK / PUBREC; QoS 0 messages, and every message of 3.1.1 (which
    /// has no way to say no), are acknowledged as usual and dropped, as Mosquitto does.
    func refusePublish(_ publish: PublishPacket, session: Session, reason: ReasonCode, why: String, topic: String) {
        logRefusal(why, topic: topic)
        guard let identifier = publish.packetIdentifier, state == .connected else { return }
        if version == .v5 {
            acknowledge(publish, reasonCode: reason, reasonString: why)
        } else if publish.qos == .exactlyOnce {
            session.receivedQoS2.insert(identifier)
            send(.pubRec(AcknowledgementPacket(packetIdentifier: identifier)))
        } else {
            send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))
        }
    }

    /// At most one line per connection every ten seconds, so that a client cannot flood the log.
    func logRefusal(_ why: String, topic: String) {
        let guards = guardState
        guards.refusedMessages += 1
        let now = NIODeadline.now()
        guard now >= guards.nextRefusalLog else { return }
        guards.nextRefusalLog = now + .seconds(10)
        logger.warning("message refused", metadata: ["reason": "\(why)", "topic": "\(topic)", "refused-so-far": "\(guards.refusedMessages)"])
    }
}
