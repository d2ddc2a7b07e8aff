/// Decides who may connect, given by an embedding application to `MQTTBroker(authenticator:)`.
///
/// The broker asks it once for a CONNECT with plain credentials, and once per step of an MQTT 5.0 enhanced
/// authentication exchange (4.12), whether at CONNECT or in a re-authentication (4.12.1). It is called outside
/// the event loops, so it may await I/O; the connection reads nothing more until it answers. An error it
/// throws, or no answer within `BrokerConfiguration.Limits.authenticationTimeout`, refuses the client with
/// Not authorized (0x87, or 0x05 for MQTT 3.1.1).
public protocol ConnectionAuthenticator: Sendable {
    func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision
}
