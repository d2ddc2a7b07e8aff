import Logging
import MQTT
import NIOCore

/// The embedder's `ConnectionAuthenticator` at work: plain credentials, the enhanced authentication exchange
/// between CONNECT and CONNACK (4.12), re-authentication (4.12.1) and redirection (4.11).
extension ConnectionHandler {
    final class AuthenticationState {
        var method: String?
        var stage = AuthenticationStage.idle
        var serial: UInt64 = 0
        var task: Task<Void, Never>?
        var timeout: Scheduled<Void>?
        var subject: AuthenticationRequest?
        var pendingSetup: SessionSetup?
    }

    var authenticationState: AuthenticationState {
        if let authentication { return authentication }
        let state = AuthenticationState()
        authentication = state
        return state
    }

    /// 5.0: the Authentication Method named in CONNECT, which every later AUTH must repeat (MQTT-4.12.0-5).
    var authenticationMethod: String? {
        get { authentication?.method }
        set { if newValue != nil || authentication != nil { authenticationState.method = newValue } }
    }
    var authenticationStage: AuthenticationStage {
        get { authentication?.stage ?? .idle }
        set { authenticationState.stage = newValue }
    }
    /// Tells the authenticator's answer apart from a late one to a request that has timed out since.
    var authenticationSerial: UInt64 {
        get { authentication?.serial ?? 0 }
        set { authenticationState.serial = newValue }
    }
    var authenticationTask: Task<Void, Never>? {
        get { authentication?.task }
        set { authenticationState.task = newValue }
    }
    var authenticationTimeout: Scheduled<Void>? {
        get { authentication?.timeout }
        set { authenticationState.timeout = newValue }
    }
    /// What every request about this connection says about the client; the password is dropped once it is in.
    var authenticationSubject: AuthenticationRequest? {
        get { authentication?.subject }
        set { authenticationState.subject = newValue }
    }
    /// The CONNECT waiting for the authenticator.
    var pendingSetup: SessionSetup? {
        get { authentication?.pendingSetup }
        set { authenticationState.pendingSetup = newValue }
    }
    /// Asks the authenticator about a CONNECT that passed every other check; decoding waits for its answer.
    func authenticateConnect(_ setup: SessionSetup) {
        let connect = setup.connect
        let properties = version == .v5 ? connect.properties : []
        authenticationMethod = properties.authenticationMethod
        authenticationSubject = AuthenticationRequest(
            connectionNumber: connectionNumber, clientIdentifier: setup.clientIdentifier, userName: connect.userName,
            password: connect.password, protocolVersion: version, remoteAddress: remoteAddress,
            clientCertificate: clientCertificate, authenticationMethod: authenticationMethod)
        pendingSetup = setup
        pause()
        ask(stage: .connect, step: 1, properties: properties)
    }

    /// A packet arriving between CONNECT and CONNACK: only the client's answer to AUTH 0x18 belongs there.
    func handleAuthenticating(_ packet: Packet) {
        switch AuthenticationExchange.beforeConnAck(packet, stage: authenticationStage, method: authenticationMethod) {
        case .ask(let step):
            guard case .auth(let auth) = packet else { return }
            authenticationTimeout?.cancel()
            authenticationTimeout = nil
            pause()
            ask(stage: .connect, step: step, properties: auth.properties)
        case .close:
            close()
        case .refuse(let reason, let why):
            refuse(reason, reasonString: why)
        }
    }

    /// AUTH from a connected client: the start or a step of re-authentication (4.12.1).
    func handleReauthentication(_ auth: AuthPacket) {
        switch AuthenticationExchange.whenConnected(auth, stage: authenticationStage, method: authenticationMethod) {
        case .ask(let step):
            ask(stage: .reauthentication, step: step, properties: auth.properties)
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
        }
    }

    /// Calls the authenticator off the event loop and comes back to it with the answer, or with a timeout.
    private func ask(stage: AuthenticationRequest.Stage, step: Int, properties: Properties) {
        guard let authenticator = core.authenticator, var request = authenticationSubject else { return }
        request.stage = stage
        request.step = step
        request.authenticationData = properties.authenticationData
        request.properties = properties
        if stage == .reauthentication { request.password = nil }
        // Logins are bounded (`Limits.maximumAuthentications`); a connected client re-authenticating is not.
        let inFlight = stage == .connect ? core.authenticationsInFlight : nil
        let address = remoteAddress
        if let inFlight, !inFlight.enter(address) {
            // A refusal for load is not a guess: the failed login reserved for the attempt is given back.
            core.failedLogins?.giveBack(address)
            inFlight.refusals.logRarely(
                logger, "login refused: too many logins under way",
                metadata: ["maximum": "\(inFlight.maximum.map(String.init) ?? "none")", "per-address": "\(inFlight.maximumPerAddress.map(String.init) ?? "none")"])
            refuse(.connectionRateExceeded, reasonString: "too many logins under way")
            return
        }
        authenticationSerial &+= 1
        let serial = authenticationSerial
        authenticationStage = .deciding(serial: serial, request: request)
        let eventLoop = loop.eventLoop
        authenticationTask = Task { [self] in
            let result: Result<AuthenticationDecision, any Error>
            do {
                result = .success(try await authenticator.authenticate(request))
            } catch {
                result = .failure(error)
            }
            inFlight?.leave(address)
            // Cancelled means the connection closed or the timeout already decided: nobody waits for the answer,
            // and the loop may be gone.
            guard !Task.isCancelled else { return }
            eventLoop.execute { self.decided(result, serial: serial) }
        }
        authenticationTimeout = eventLoop.assumeIsolated().scheduleTask(in: core.configuration.limits.authenticationTimeout) { [self] in
            authenticationTask?.cancel()
            decided(.failure(AuthenticationTimedOut()), serial: serial)
        }
    }

    private func decided(_ result: Result<AuthenticationDecision, any Error>, serial: UInt64) {
        guard case .deciding(let current, let request) = authenticationStage, current == serial else { return }
        authenticationStage = .idle
        authenticationTimeout?.cancel()
        authenticationTimeout = nil
        authenticationTask = nil
        let decision: AuthenticationDecision
        switch result {
        case .success(let answer):
            decision = answer
        case .failure(let error):
            logger.warning("authenticator failed", metadata: ["error": "\(error)", "stage": "\(request.stage)", "step": "\(request.step)"])
            decision = .refuse(.notAuthorized, reasonString: "authentication failed")
        }
        switch request.stage {
        case .connect:
            guard state == .authenticating else { return }
            concludeConnect(decision, step: request.step)
        case .reauthentication:
            guard state == .connected else { return }
            concludeReauthentication(decision, step: request.step)
        }
        loop.flush()
    }

    private func concludeConnect(_ decision: AuthenticationDecision, step: Int) {
        switch decision {
        case .accept(let data, let userName):
            guard var setup = pendingSetup else { return }
            pendingSetup = nil
            // The failed login `authenticate` reserved for this attempt is not one.
            core.failedLogins?.giveBack(remoteAddress)
            authenticationSubject?.password = nil
            setup.authenticationData = data
            if let userName { setup.userName = userName }
            enter(setup)
        case .continueAuthentication(let data):
            guard let method = authenticationMethod else {
                // MQTT-4.12.0-6: no AUTH to a client that named no method.
                logger.error("authenticator continued an authentication without an Authentication Method")
                refuse(.notAuthorized, reasonString: "authentication failed")
                return
            }
            sendAuth(.continueAuthentication, method: method, data: data)
            authenticationStage = .awaitingClient(step: step + 1)
            // The CONNECT's own deadline is over: the client gets as long again for each answer.
            authenticationTimeout = loop.eventLoop.assumeIsolated().scheduleTask(in: core.configuration.limits.connectTimeout) { [self] in
                guard state == .authenticating, case .awaitingClient = authenticationStage else { return }
                logger.info("closing connection that did not answer AUTH in time")
                close()
            }
            resume()
        case .refuse(let reason, let reasonString):
            // The failed login reserved when the attempt started (`Limits.failedLoginsPerAddress`) stays used.
            logger.warning("login refused", metadata: ["user": "\(authenticationSubject?.userName ?? "")", "reason": "\(reason)"])
            refuse(Self.refusal(reason), reasonString: reasonString)
        case .redirect(let reference, let permanently):
            core.failedLogins?.giveBack(remoteAddress)
            // 3.1.1 has no Server Reference: its return code for these is Server unavailable.
            refuse(permanently ? .serverMoved : .useAnotherServer, properties: [.serverReference(reference)])
        }
    }

    private func concludeReauthentication(_ decision: AuthenticationDecision, step: Int) {
        guard let method = authenticationMethod else { return }
        switch decision {
        case .accept(let data, _):
            logger.debug("client re-authenticated")
            sendAuth(.success, method: method, data: data)
        case .continueAuthentication(let data):
            sendAuth(.continueAuthentication, method: method, data: data)
            authenticationStage = .awaitingClient(step: step + 1)
        case .refuse(let reason, let reasonString):
            // MQTT-4.12.1-2: a failed re-authentication ends the connection.
            logger.info("re-authentication refused", metadata: ["reason": "\(reason)"])
            disconnect(reason: Self.refusal(reason), reasonString: reasonString)
        case .redirect(let reference, let permanently):
            logger.info("client redirected", metadata: ["server-reference": "\(reference)"])
            disconnect(reason: permanently ? .serverMoved : .useAnotherServer, properties: [.serverReference(reference)])
        }
    }

    private func sendAuth(_ reason: ReasonCode, method: String, data: ByteBuffer?) {
        var properties: Properties = [.authenticationMethod(method)]
        if let data { properties.append(.authenticationData(data)) }
        send(.auth(AuthPacket(reasonCode: reason, properties: properties)))
    }

    /// Only error codes refuse; an authenticator that answers with another one is taken to mean Not authorized.
    private static func refusal(_ reason: ReasonCode) -> ReasonCode {
        reason.rawValue >= 0x80 ? reason : .notAuthorized
    }
}

/// The authenticator did not answer within `BrokerConfiguration.Limits.authenticationTimeout`.
private struct AuthenticationTimedOut: Error, CustomStringConvertible {
    var description: String { "no answer within the authentication timeout" }
}
