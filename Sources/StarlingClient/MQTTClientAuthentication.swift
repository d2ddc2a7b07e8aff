import NIOCore

/// MQTT 5.0 enhanced authentication (4.12) from the client's side: an Authentication Method and the exchange of
/// Authentication Data it runs with the broker, in CONNECT, AUTH packets and CONNACK. Set it as
/// `MQTTClientConfiguration.authentication`; `SCRAMClientAuthentication` is one.
public protocol MQTTClientAuthentication: Sendable {
    /// The Authentication Method named in CONNECT and every AUTH packet.
    var method: String { get }
    /// A fresh exchange for one connection: each connection (and each reconnection) authenticates anew.
    func makeExchange() -> any MQTTClientAuthenticationExchange
}

/// One connection's authentication, driven on the connection's event loop, one step at a time.
public protocol MQTTClientAuthenticationExchange: AnyObject {
    /// The Authentication Data of CONNECT; nil to send none.
    func initialData() throws -> ByteBuffer?
    /// The Authentication Data answering the broker's AUTH packet (Continue authentication) with `challenge`.
    func respond(to challenge: ByteBuffer?) throws -> ByteBuffer?
    /// Checks the Authentication Data of the broker's successful CONNACK: throws when it does not prove what the
    /// method says it proves (the broker's knowledge of the password, for SCRAM), and the connection is closed.
    func complete(with data: ByteBuffer?) throws
}
