import Logging
import MQTT
import NIOCore

/// A CONNECT on its way to a session (3.1.4): the connection limits, the negotiation, the pre-connect hook,
/// anonymous clients, the failed-login limit, the authenticator, the client identifier's binding and the will's
/// ACL check, then the session claimed from the registry. Each step that waits (a hook, the authenticator, a
/// take-over on another loop) carries the attempt on in its answer; decoding stays paused meanwhile.
struct ConnectAttempt {
    let connection: ConnectionHandler
    var setup: SessionSetup

    /// Starts on a CONNECT the state machine let through.
    static func start(_ connect: ConnectPacket, on connection: ConnectionHandler) {
        let core = connection.core
        // The connect deadline is met; the keep alive, if any, is watched from CONNACK on.
        connection.loop.deadlineWheel.remove(connection)
        connection.machine.connectReceived(version: connect.protocolVersion)
        let limits = core.configuration.limits
        let v5 = connection.version == .v5
        if v5 {
            // Known before any answer, refusals included, is shaped by them.
            if let maximum = connect.properties.maximumPacketSize { connection.writer.clientMaximumPacketSize = Int(maximum) }
            connection.writer.problemInformation = connect.properties.requestProblemInformation ?? true
        }

        if core.connectionCount.wrappingIncrementThenLoad(ordering: .relaxed) > limits.maximumConnections {
            connection.logger.warning("refusing connection: maximum connections reached", metadata: ["maximum": "\(limits.maximumConnections)"])
            connection.refuse(v5 ? .serverBusy : .serverUnavailable, reasonString: "too many connections")
            return
        }
        if let limiter = core.connectionRate, !limiter.take(connection.remoteAddress) {
            connection.logger.warning("refusing connection: too many connections from this address", metadata: ["limit": "\(limits.connectionRatePerAddress!)"])
            connection.refuse(.connectionRateExceeded, reasonString: "too many connections from this address")
            return
        }

        var connect = connect
        if connection.userNameFromCertificate {
            guard let commonName = connection.clientCertificate?.commonName else {
                connection.refuse(.notAuthorized, reasonString: "a client certificate with a Common Name is required")
                return
            }
            connect.userName = commonName
        }

        let terms: ConnectNegotiation.Terms
        switch core.connectNegotiation.negotiate(connect, makeClientIdentifier: makeClientIdentifier) {
        case .accept(let accepted):
            terms = accepted
        case .refuse(let reason, let why):
            connection.refuse(reason, reasonString: why)
            return
        }
        if let capacity = terms.outgoingTopicAliases { connection.writer.outgoingAliases = OutgoingTopicAliases(capacity: capacity) }
        connection.loggedClientIdentifier = terms.clientIdentifier
        ConnectAttempt(connection: connection, setup: SessionSetup(connect: connect, terms: terms)).checkBeforeAuthentication()
    }

    /// The pre-connect hook, when there is one.
    private func checkBeforeAuthentication() {
        guard let check = connection.core.hooks.preConnect else {
            authenticate()
            return
        }
        let client = ClientInfo(
            clientIdentifier: setup.clientIdentifier, userName: setup.connect.userName, protocolVersion: connection.version,
            remoteAddress: connection.remoteAddress)
        let connect = setup.connect
        connection.hookCalls.run("pre-connect check", { try await check.check(client, connect: connect) }) { result in
            guard connection.state == .authenticating else { return }
            switch result {
            case .success(nil):
                authenticate()
            case .success(let reason?):
                connection.refuse(reason.isFailure ? reason : .notAuthorized, reasonString: "refused by the pre-connect check")
            case .failure:
                connection.refuse(.notAuthorized, reasonString: "refused by the pre-connect check")
            }
        }
    }

    private func authenticate() {
        let connect = setup.connect
        let core = connection.core
        if setup.clientIdentifier.isClusterLink {
            let password = connect.password.map { Array($0.readableBytesView) }
            guard let cluster = core.hooks.cluster,
                cluster.admitsLink(clientIdentifier: setup.clientIdentifier, userName: connect.userName, password: password)
            else {
                connection.logger.warning("client refused: its identifier is reserved for cluster links", metadata: ["client": "\(setup.clientIdentifier)"])
                connection.refuse(.clientIdentifierNotValid, reasonString: "client identifiers starting with \(clusterLinkPrefix) are the cluster's")
                return
            }
            connection.writer.stampsLinkSequence = true
            var attempt = self
            attempt.setup.isClusterLink = true
            attempt.enter()
            return
        }
        // A verified client certificate, a user name or an enhanced authentication method each say who it is.
        let anonymous = connect.userName == nil && connection.clientCertificate == nil
            && (connection.version != .v5 || connect.properties.authenticationMethod == nil)
        if anonymous {
            guard core.anonymousAllowed else {
                connection.logger.warning("anonymous client refused")
                connection.refuse(.notAuthorized, reasonString: "anonymous clients are not allowed")
                return
            }
        } else if core.authenticator != nil {
            // Each attempt takes one of the address's failed logins when it starts and gives it back if it
            // succeeds: counting only finished failures would let any number of guesses run at once.
            if let limiter = core.failedLogins, !limiter.take(connection.remoteAddress) {
                connection.logger.warning("login refused: too many failed logins from this address", metadata: ["user": "\(connect.userName ?? "")"])
                connection.refuse(.connectionRateExceeded, reasonString: "too many failed logins")
                return
            }
            let authentication = connection.authentication ?? ConnectionAuthentication(connection: connection)
            connection.authentication = authentication
            authentication.start(self)
            return
        }
        enter()
    }

    /// Sets up the session of a client that is let in, unless its client identifier is not its user's
    /// (`clientIdentifierBinding`) or the ACL forbids its will (as Mosquitto does).
    func enter() {
        var attempt = self
        guard attempt.bindClientIdentifier() else { return }
        let setup = attempt.setup
        if let control = connection.core.accessControl, let will = setup.connect.will {
            let rules = control.list.rules(userName: setup.userName, clientIdentifier: setup.clientIdentifier)
            guard rules.mayPublish(will.topic) else {
                connection.logger.warning("client refused: its will topic is not writable for it", metadata: ["topic": "\(will.topic)"])
                connection.refuse(.notAuthorized, reasonString: "will topic not allowed")
                return
            }
        }
        connection.machine.admitted()
        connection.pause()
        let connection = self.connection
        if let cluster = connection.core.hooks.cluster, !setup.isClusterLink {
            // The cluster first: another node may hold the session, and hand it over.
            let clientIdentifier = setup.clientIdentifier
            let cleanStart = setup.connect.cleanStart
            let loop = connection.loop.eventLoop
            Task {
                let claim = await cluster.claim(clientIdentifier: clientIdentifier, cleanStart: cleanStart)
                loop.execute {
                    guard connection.state == .connecting else { return }
                    switch claim {
                    case .granted:
                        Self.claimLocally(setup, on: connection)
                    case .refused(let reason, let why):
                        connection.logger.warning("connection refused by the cluster", metadata: ["reason": "\(why)"])
                        connection.refuse(reason, reasonString: why)
                    }
                }
            }
            return
        }
        Self.claimLocally(setup, on: connection)
    }

    /// Claims the session from this broker's registry and attaches it.
    private static func claimLocally(_ setup: SessionSetup, on connection: ConnectionHandler) {
        connection.core.sessions.claim(setup.clientIdentifier, cleanStart: setup.connect.cleanStart, on: connection.loop) { claim in
            switch claim {
            case .granted(let session, let present):
                SessionAttachment.attach(session, present: present, setup: setup, to: connection)
            case .refused(let maximumSessions):
                connection.logger.warning("session limit reached; connection refused", metadata: ["limit": "\(maximumSessions)"])
                connection.refuse(.quotaExceeded, reasonString: "the broker holds its maximum of \(maximumSessions) sessions")
            }
        }
    }

    /// Applies `clientIdentifierBinding` to the user name authentication settled on; refuses the client and
    /// returns false when its identifier is not its user's.
    private mutating func bindClientIdentifier() -> Bool {
        let binding = connection.core.configuration.clientIdentifierBinding
        guard binding != .unbound else { return true }
        guard let userName = setup.userName else {
            connection.logger.warning("client refused: its client identifier is bound to a user name and it has none")
            connection.refuse(.notAuthorized, reasonString: "a user name is required")
            return false
        }
        guard let identifier = binding.identifier(setup.clientIdentifier, userName: userName) else {
            connection.logger.warning("client refused: its client identifier does not belong to its user", metadata: ["user": "\(userName)"])
            connection.refuse(.clientIdentifierNotValid, reasonString: "the client identifier must be the user name or start with it")
            return false
        }
        if !identifier.utf8.elementsEqual(setup.clientIdentifier.utf8) {
            if setup.assignedIdentifier != nil { setup.assignedIdentifier = identifier }
            setup.clientIdentifier = identifier
            connection.loggedClientIdentifier = identifier
        }
        return true
    }

    private static func makeClientIdentifier() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return "starling-" + String(high, radix: 36) + String(low, radix: 36)
    }
}
