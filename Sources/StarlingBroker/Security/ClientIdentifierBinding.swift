/// Whether a client's identifier is tied to its user name, so that one user cannot pick another's identifier
/// and take over that session with its queued messages (or fall under that identifier's ACL `client` rules).
///
/// The user name is the one authentication settled on: the CONNECT's, a certificate's Common Name, or the one
/// an authenticator named. With any binding, a client without a user name is refused with Not authorized
/// (0x87 / 0x05), as Mosquitto does with `use_username_as_clientid`: its identifier could not be checked.
public enum ClientIdentifierBinding: Sendable, Hashable {
    /// Any client may use any identifier (MQTT's default, and Mosquitto's).
    case unbound
    /// The user name is the client identifier, whatever the CONNECT said (Mosquitto's `use_username_as_clientid`);
    /// a 5.0 client that sent an empty one is told it in Assigned Client Identifier.
    case userName
    /// The identifier must be the user name, or start with the user name followed by `separator` (user `alice`
    /// may use `alice` and, with "-", `alice-phone`); others are refused with 0x85 Client Identifier not
    /// valid (3.1.1: 0x02). An empty separator allows any identifier starting with the user name, so user `al`
    /// could then use `alice`.
    case prefixedByUserName(separator: String)

    /// The identifier the client gets, or nil when it is refused; `userName` is known to be present.
    func identifier(_ requested: String, userName: String) -> String? {
        switch self {
        case .unbound:
            return requested
        case .userName:
            return userName
        case .prefixedByUserName(let separator):
            // Bytes, not characters: a canonically equivalent spelling of the user name is another user name.
            let requestedBytes = requested.utf8
            let nameBytes = userName.utf8
            if requestedBytes.elementsEqual(nameBytes) { return requested }
            guard requestedBytes.starts(with: nameBytes) else { return nil }
            let rest = requestedBytes.dropFirst(nameBytes.count)
            return rest.starts(with: separator.utf8) && rest.count > separator.utf8.count ? requested : nil
        }
    }
}
