import MQTT
import NIOCore

/// A `ConnectionAuthenticator`'s answer to one `AuthenticationRequest`.
public enum AuthenticationDecision: Sendable {
    /// Lets the client in: CONNACK 0x00, or AUTH 0x00 ending a re-authentication, carrying `data` as
    /// Authentication Data when the client named an Authentication Method. `userName`, when given at CONNECT,
    /// is who the client is for the ACL and the hooks in place of the CONNECT's User Name: the user an
    /// enhanced method authenticated, or a certificate's subject.
    case accept(data: ByteBuffer? = nil, userName: String? = nil)
    /// Needs another step (5.0, with an Authentication Method only, MQTT-4.12.0-6): the broker sends AUTH 0x18
    /// with `data` and asks again with the client's answer (MQTT-4.12.0-2).
    case continueAuthentication(data: ByteBuffer?)
    /// Turns the client away: CONNACK with `reasonCode` (mapped to a 3.1.1 return code for older clients), or
    /// DISCONNECT with it after a failed re-authentication (MQTT-4.12.1-2). Codes below 0x80 are not
    /// refusals and are replaced by Not authorized.
    case refuse(ReasonCode, reasonString: String? = nil)
    /// Sends the client elsewhere (4.11): CONNACK, or DISCONNECT in re-authentication, with Use another server
    /// (0x9C) or, when `permanently`, Server moved (0x9D), and the Server Reference. MQTT 3.1.1 has no
    /// redirection: its clients are answered Server unavailable (0x03).
    case redirect(serverReference: String, permanently: Bool = false)
}
