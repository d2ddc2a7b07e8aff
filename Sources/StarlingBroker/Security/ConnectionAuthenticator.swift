/// Decides who may connect, given by an embedding application to `MQTTBroker(authenticator:)`.
///
/// The broker asks it once for a CONNECT with plain credentials, and once per step of an MQTT 5.0 enhanced
/// authentication exchange (4.12), whether at CONNECT or in a re-authentication (4.12.1). It is called outside
/// the event loops, so it may await I/O; at CONNECT the connection reads nothing more until it answers, while a
/// connected client re-authenticating goes on being served. An error it throws, or no answer within
/// `BrokerConfiguration.Limits.authenticationTimeout`, refuses the client with Not authorized (0x87, or 0x05 for
/// MQTT 3.1.1), or in re-authentication disconnects it with 0x87.
public protocol ConnectionAuthenticator: Sendable {
    /// Decides on one CONNECT or AUTH step; called once per request, possibly concurrently for different
    /// connections.
    func authenticate(_ request: AuthenticationRequest) async throws -> AuthenticationDecision
}
