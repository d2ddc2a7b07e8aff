import Logging
import MQTT
import NIOCore

/// A connection's authentication by the embedder's `ConnectionAuthenticator`: plain credentials, the enhanced
/// authentication exchange between CONNECT and CONNACK (4.12), re-authentication (4.12.1) and redirection
/// (4.11). Made only for a broker with an authenticator, when a client first needs it, so that other
/// connections stay small. The exchange's rules are `AuthenticationExchange`'s; this calls the authenticator off
/// the event loop, keeps its time, and has the connection act on its answer.
final class ConnectionAuthentication {
    /// The connection this belongs to, which holds it.
    private unowned let connection: ConnectionHandler
    /// 5.0: the Authentication Method named in CONNECT, which every later AUTH must repeat (MQTT-4.12.0-5).
    private(set) var method: String?
    private(set) var stage = AuthenticationStage.idle
    /// Tells the authenticator's answer apart from a late one to a request that has timed out since.
    private var serial: UInt64 = 0
    private var task: Task<Void, Never>?
    private var timeout: Scheduled<Void>?
    /// What every request about this connection says about the client; the password is dropped once it is in.
    private var subject: AuthenticationRequest?
    /// The CONNECT waiting for the authenticator.
    private var pendingAttempt: ConnectAttempt?

    init(connection: ConnectionHandler) {
        self.connection = connection
    }

    /// Whether the authenticator is deciding or an answer is awaited: the connection must not hibernate.
    var isBusy: Bool {
        if case .idle = stage, task == nil { return false }
        return true
    }

    /// Asks the authenticator about a CONNECT that passed every other check; decoding waits for its answer.
    func start(_ attempt: ConnectAttempt) {
        let setup = attempt.setup
        let connect = setup.connect
        let version = connection.version
        let properties = version == .v5 ? connect.properties : []
        method = properties.authenticationMethod
        subject = AuthenticationRequest(
            connectionNumber: connection.connectionNumber, clientIdentifier: setup.clientIdentifier, userName: connect.userName,
            password: connect.password, protocolVersion: version, remoteAddress: connection.remoteAddress,
            clientCertificate: connection.clientCertificate, authenticationMethod: method)
        pendingAttempt = attempt
        connection.pause()
        ask(stage: .connect, step: 1, properties: properties)
    }

    /// The client's AUTH between CONNECT and CONNACK, which `AuthenticationExchange` let through as `step`.
    func continueBeforeConnAck(_ auth: AuthPacket, step: Int) {
        timeout?.cancel()
        timeout = nil
        connection.pause()
        ask(stage: .connect, step: step, properties: auth.properties)
    }

    /// A connected client's AUTH, which `AuthenticationExchange` let through as `step` of re-authentication.
    func reauthenticate(_ auth: AuthPacket, step: Int) {
        // Other packets keep flowing meanwhile: the connection stays authenticated as before until the outcome.
        ask(stage: .reauthentication, step: step, properties: auth.properties)
    }

    /// A packet arriving between CONNECT and CONNACK: only the client's answer to AUTH 0x18 belongs there.
    static func receiveBeforeConnAck(_ packet: Packet, on connection: ConnectionHandler) {
        let authentication = connection.authentication
        switch AuthenticationExchange.beforeConnAck(packet, stage: authentication?.stage ?? .idle, method: authentication?.method) {
        case .ask(let step):
            guard case .auth(let auth) = packet, let authentication else { return }
            authentication.continueBeforeConnAck(auth, step: step)
        case .close:
            connection.close()
        case .refuse(let reason, let why):
            connection.refuse(reason, reasonString: why)
        }
    }

    /// AUTH from a connected client: the start or a step of re-authentication (4.12.1).
    static func receiveWhenConnected(_ auth: AuthPacket, on connection: ConnectionHandler) {
        let authentication = connection.authentication
        switch AuthenticationExchange.whenConnected(auth, stage: authentication?.stage ?? .idle, method: authentication?.method) {
        case .ask(let step):
            authentication?.reauthenticate(auth, step: step)
        case .disconnect(let reason, let why):
            connection.disconnect(reason: reason, reasonString: why)
        }
    }

    /// The connection is over: nobody waits for an answer.
    func cancel() {
        timeout?.cancel()
        task?.cancel()
    }

    /// Calls the authenticator off the event loop and comes back to it with the answer, or with a timeout.
    private func ask(stage: AuthenticationRequest.Stage, step: Int, properties: Properties) {
        guard let authenticator = connection.core.authenticator, var request = subject else { return }
        request.stage = stage
        request.step = step
        request.authenticationData = properties.authenticationData
        request.properties = properties
        if stage == .reauthentication { request.password = nil }
        // Logins are bounded (`Limits.maximumAuthentications`); a connected client re-authenticating is not.
        let inFlight = stage == .connect ? connection.core.authenticationsInFlight : nil
        let address = connection.remoteAddress
        if let inFlight, !inFlight.enter(address) {
            // A refusal for load is not a guess: the failed login reserved for the attempt is given back.
            connection.core.failedLogins?.giveBack(address)
            inFlight.refusals.logRarely(
                connection.logger, "login refused: too many logins under way",
                metadata: ["maximum": "\(inFlight.maximum.map(String.init) ?? "none")", "per-address": "\(inFlight.maximumPerAddress.map(String.init) ?? "none")"])
            connection.refuse(.connectionRateExceeded, reasonString: "too many logins under way")
            return
        }
        self.serial &+= 1
        let serial = self.serial
        self.stage = .deciding(serial: serial, request: request)
        let eventLoop = connection.loop.eventLoop
        let connection = self.connection
        task = Task {
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
            eventLoop.execute { connection.authentication?.decided(result, serial: serial) }
        }
        // The timers hold the connection, as the task does: this object only borrows it.
        timeout = eventLoop.assumeIsolated().scheduleTask(in: connection.core.configuration.limits.authenticationTimeout) {
            guard let authentication = connection.authentication else { return }
            authentication.task?.cancel()
            authentication.decided(.failure(AuthenticationTimedOut()), serial: serial)
        }
    }

    fileprivate func decided(_ result: Result<AuthenticationDecision, any Error>, serial: UInt64) {
        guard case .deciding(let current, let request) = stage, current == serial else { return }
        stage = .idle
        timeout?.cancel()
        timeout = nil
        task = nil
        let decision: AuthenticationDecision
        switch result {
        case .success(let answer):
            decision = answer
        case .failure(let error):
            connection.logger.warning("authenticator failed", metadata: ["error": "\(error)", "stage": "\(request.stage)", "step": "\(request.step)"])
            decision = .refuse(.notAuthorized, reasonString: "authentication failed")
        }
        switch request.stage {
        case .connect:
            guard connection.state == .authenticating else { return }
            concludeConnect(decision, step: request.step)
        case .reauthentication:
            guard connection.state == .connected else { return }
            concludeReauthentication(decision, step: request.step)
        }
        connection.loop.flush()
    }

    private func concludeConnect(_ decision: AuthenticationDecision, step: Int) {
        switch decision {
        case .accept(let data, let userName):
            guard var attempt = pendingAttempt else { return }
            pendingAttempt = nil
            connection.loop.counters.security.authenticationsSucceeded &+= 1
            // The failed login `authenticate` reserved for this attempt is not one.
            connection.core.failedLogins?.giveBack(connection.remoteAddress)
            subject?.password = nil
            attempt.setup.authenticationData = data
            if let userName { attempt.setup.userName = userName }
            attempt.enter()
        case .continueAuthentication(let data):
            guard let method = method else {
                // MQTT-4.12.0-6: no AUTH to a client that named no method.
                connection.logger.error("authenticator continued an authentication without an Authentication Method")
                connection.refuse(.notAuthorized, reasonString: "authentication failed")
                return
            }
            sendAuth(.continueAuthentication, method: method, data: data)
            stage = .awaitingClient(step: step + 1)
            // The CONNECT's own deadline is over: the client gets as long again for each answer.
            let connection = self.connection
            timeout = connection.loop.eventLoop.assumeIsolated().scheduleTask(in: connection.core.configuration.limits.connectTimeout) {
                guard connection.state == .authenticating, case .awaitingClient = connection.authentication?.stage else { return }
                connection.logger.info("closing connection that did not answer AUTH in time")
                connection.close()
            }
            connection.resume()
        case .refuse(let reason, let reasonString):
            // The failed login reserved when the attempt started (`Limits.failedLoginsPerAddress`) stays used.
            connection.loop.counters.security.authenticationsFailed &+= 1
            connection.logger.warning("login refused", metadata: ["user": "\(subject?.userName ?? "")", "reason": "\(reason)"])
            connection.refuse(Self.refusal(reason), reasonString: reasonString)
        case .redirect(let reference, let permanently):
            connection.core.failedLogins?.giveBack(connection.remoteAddress)
            // 3.1.1 has no Server Reference: its return code for these is Server unavailable.
            connection.refuse(permanently ? .serverMoved : .useAnotherServer, properties: [.serverReference(reference)])
        }
    }

    private func concludeReauthentication(_ decision: AuthenticationDecision, step: Int) {
        guard let method = method else { return }
        switch decision {
        case .accept(let data, _):
            connection.logger.debug("client re-authenticated")
            sendAuth(.success, method: method, data: data)
        case .continueAuthentication(let data):
            sendAuth(.continueAuthentication, method: method, data: data)
            stage = .awaitingClient(step: step + 1)
        case .refuse(let reason, let reasonString):
            // MQTT-4.12.1-2: a failed re-authentication ends the connection.
            connection.logger.info("re-authentication refused", metadata: ["reason": "\(reason)"])
            connection.disconnect(reason: Self.refusal(reason), reasonString: reasonString)
        case .redirect(let reference, let permanently):
            connection.logger.info("client redirected", metadata: ["server-reference": "\(reference)"])
            connection.disconnect(reason: permanently ? .serverMoved : .useAnotherServer, properties: [.serverReference(reference)])
        }
    }

    private func sendAuth(_ reason: ReasonCode, method: String, data: ByteBuffer?) {
        var properties: Properties = [.authenticationMethod(method)]
        if let data { properties.append(.authenticationData(data)) }
        connection.send(.auth(AuthPacket(reasonCode: reason, properties: properties)))
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
