import MQTT
import NIOCore

/// A CONNECT on its way to a session: the negotiated terms, then what authentication adds.
struct SessionSetup {
    var connect: ConnectPacket
    var terms: ConnectNegotiation.Terms
    var clientIdentifier: String
    var assignedIdentifier: String?
    /// 5.0: the authenticator's last Authentication Data, sent in CONNACK.
    var authenticationData: ByteBuffer?
    /// Who the client is for the ACL and the hooks: the CONNECT's User Name, or the one the authenticator named.
    var userName: String?
    /// Another cluster node's link (`ClusterRouting`): no ACL, no publish limits.
    var isClusterLink = false

    init(connect: ConnectPacket, terms: ConnectNegotiation.Terms) {
        self.connect = connect
        self.terms = terms
        clientIdentifier = terms.clientIdentifier
        assignedIdentifier = terms.assignedIdentifier
        userName = connect.userName
    }
}
