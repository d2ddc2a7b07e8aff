import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A connection's peer address, held inline: SwiftNIO's `SocketAddress` refers to a box of about 96 bytes of
/// heap, which every idle connection would keep for the rare moments (logging, hooks, rate limits) it is read.
enum PeerAddress: Sendable {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)
    case other(SocketAddress)

    init?(_ address: SocketAddress?) {
        switch address {
        case .v4(let address): self = .v4(address.address)
        case .v6(let address): self = .v6(address.address)
        case .some(let address): self = .other(address)
        case nil: return nil
        }
    }

    var socketAddress: SocketAddress {
        switch self {
        case .v4(let address): SocketAddress(address)
        case .v6(let address): SocketAddress(address)
        case .other(let address): address
        }
    }
}
