import MQTT

/// The connection's side of authentication: it makes its `ConnectionAuthentication` when a client first needs one,
/// and asks `AuthenticationExchange` what each AUTH (or other packet before CONNACK) leads to.
extension ConnectionHandler {
    /// 5.0: the Authentication Method named in CONNECT, repeated in a successful CONNACK (MQTT-4.12.0-5).
    var authenticationMethod: String? { authentication?.method }

    /// Asks the authenticator about a CONNECT that passed every other check.
    func authenticateConnect(_ setup: SessionSetup) {
        let made = authentication ?? ConnectionAuthentication(connection: self)
        authentication = made
        made.start(setup)
    }

    /// A packet arriving between CONNECT and CONNACK: only the client's answer to AUTH 0x18 belongs there.
    func handleAuthenticating(_ packet: Packet) {
        switch AuthenticationExchange.beforeConnAck(packet, stage: authentication?.stage ?? .idle, method: authenticationMethod) {
        case .ask(let step):
            guard case .auth(let auth) = packet, let authentication else { return }
            authentication.continueBeforeConnAck(auth, step: step)
        case .close:
            close()
        case .refuse(let reason, let why):
            refuse(reason, reasonString: why)
        }
    }

    /// AUTH from a connected client: the start or a step of re-authentication (4.12.1).
    func handleReauthentication(_ auth: AuthPacket) {
        switch AuthenticationExchange.whenConnected(auth, stage: authentication?.stage ?? .idle, method: authenticationMethod) {
        case .ask(let step):
            authentication?.reauthenticate(auth, step: step)
        case .disconnect(let reason, let why):
            disconnect(reason: reason, reasonString: why)
        }
    }
}
