import NIOCore
@testable import StarlingBroker
import Testing

@Suite struct PeerAddressTests {
    @Test(arguments: [
        try SocketAddress(ipAddress: "192.0.2.7", port: 51_234),
        try SocketAddress(ipAddress: "2001:db8::17", port: 1_883),
        try SocketAddress(unixDomainSocketPath: "/tmp/starling.sock"),
    ])
    func givesBackTheAddressItWasMadeFrom(_ address: SocketAddress) throws {
        let peer = try #require(PeerAddress(address))
        #expect(peer.socketAddress == address)
        #expect(peer.socketAddress.ipAddress == address.ipAddress)
        #expect(peer.socketAddress.port == address.port)
    }

    @Test func anAcceptedAddressReadsTheSameInTheLog() throws {
        // Accepted sockets name their host by the address itself, as `SocketAddress(sockaddr_in)` does.
        guard case .v4(let accepted) = try SocketAddress(ipAddress: "127.0.0.1", port: 40_000) else {
            Issue.record("not an IPv4 address")
            return
        }
        let address = SocketAddress(accepted.address)
        #expect("\(try #require(PeerAddress(address)).socketAddress)" == "\(address)")
        #expect(PeerAddress(nil) == nil)
    }
}
