import NIOCore

extension SocketAddress {
    /// 127.0.0.0/8 and ::1: reachable from this machine only.
    var isLoopback: Bool {
        switch self {
        case .v4:
            return ipAddress?.hasPrefix("127.") == true
        case .v6:
            return ipAddress == "::1"
        case .unixDomainSocket:
            return true
        }
    }
}
