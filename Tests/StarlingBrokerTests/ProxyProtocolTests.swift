import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// PROXY protocol v1 and v2 on a listener: the address the load balancer reports is the client's address.
@Suite struct ProxyProtocolTests {
    typealias Authenticator = AuthenticationTests.Authenticator

    static func withProxyBroker<T: Sendable>(
        _ authenticator: Authenticator, _ body: (TestBroker) async throws -> T
    ) async throws -> T {
        try await TestBroker.with(authenticator: authenticator, { configuration in
            configuration.listeners = [.init(host: "127.0.0.1", port: 0, proxyProtocol: true)]
        }, body)
    }

    /// Sends `header` and CONNECT in one write, as a proxy forwarding the client's first bytes would.
    static func connect(through broker: TestBroker, header: [UInt8], version: ProtocolVersion = .v5) async throws -> RawClient {
        let client = try await broker.open(version: version)
        // With a user name: a broker with an authenticator refuses anonymous clients before asking it.
        let connect = try Packet.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "proxied", userName: "proxied")).encoded(version: version)
        try await client.send(bytes: header + Array(connect.readableBytesView))
        return client
    }

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    @Test func version1TCP4AddressReachesTheAuthenticator() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await Self.connect(through: broker, header: Array("PROXY TCP4 203.0.113.7 192.0.2.1 4711 1883\r\n".utf8))
            #expect(try await client.expectConnAck().reasonCode == .success)
            let address = authenticator.requests.withLockedValue { $0.first?.remoteAddress }
            #expect(address?.ipAddress == "203.0.113.7")
            #expect(address?.port == 4711)
        }
    }

    @Test func version1TCP6() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await Self.connect(through: broker, header: Array("PROXY TCP6 2001:db8::7 2001:db8::1 50000 1883\r\n".utf8))
            #expect(try await client.expectConnAck().reasonCode == .success)
            let address = authenticator.requests.withLockedValue { $0.first?.remoteAddress }
            #expect(address?.ipAddress == "2001:db8::7")
            #expect(address?.port == 50000)
        }
    }

    @Test func version1HeaderSplitAcrossWrites() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await broker.open(version: .v3_1_1)
            try await client.send(bytes: Array("PROXY TCP4 198.51".utf8))
            try await client.send(bytes: Array(".100.9 192.0.2.1 1234 1883\r\n".utf8))
            try await client.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "split", userName: "split")))
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(authenticator.requests.withLockedValue { $0.first?.remoteAddress?.ipAddress } == "198.51.100.9")
        }
    }

    @Test func version2IPv4WithTLVs() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            // PROXY command, TCP over IPv4, 12 address bytes and a 4-byte NOOP TLV that must be skipped.
            let addresses: [UInt8] = [203, 0, 113, 9, 192, 0, 2, 1, 0x1F, 0x90, 0x07, 0x5B]
            let tlv: [UInt8] = [0x04, 0x00, 0x01, 0x00]
            let header = Self.v2Signature + [0x21, 0x11, 0x00, UInt8(addresses.count + tlv.count)] + addresses + tlv
            let client = try await Self.connect(through: broker, header: header)
            #expect(try await client.expectConnAck().reasonCode == .success)
            let address = authenticator.requests.withLockedValue { $0.first?.remoteAddress }
            #expect(address?.ipAddress == "203.0.113.9")
            #expect(address?.port == 8080)
        }
    }

    @Test func version2IPv6() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            var addresses: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [0x42]
            addresses += [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [0x01]
            addresses += [0xC3, 0x50, 0x07, 0x5B]
            let header = Self.v2Signature + [0x21, 0x21, 0x00, UInt8(addresses.count)] + addresses
            let client = try await Self.connect(through: broker, header: header)
            #expect(try await client.expectConnAck().reasonCode == .success)
            let address = authenticator.requests.withLockedValue { $0.first?.remoteAddress }
            #expect(address?.ipAddress == "2001:db8::42")
            #expect(address?.port == 50000)
        }
    }

    @Test func version2LocalKeepsTheSocketAddress() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await Self.connect(through: broker, header: Self.v2Signature + [0x20, 0x00, 0x00, 0x00])
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(authenticator.requests.withLockedValue { $0.first?.remoteAddress?.ipAddress } == "127.0.0.1")
        }
    }

    @Test(arguments: [
        "MQTT without a header",
        "PROXY TCP4 999.0.113.7 192.0.2.1 4711 1883\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 4711\r\n",
        "PROXY TCP4 2001:db8::1 192.0.2.1 4711 1883\r\n",
        "PROXY SCTP 203.0.113.7 192.0.2.1 4711 1883\r\n",
        "PROXY TCP4 203.0.113.7 192.0.2.1 4711 1883\n",
    ])
    func badVersion1HeaderClosesTheConnection(_ header: String) async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let prefix = header == "MQTT without a header" ? [] : Array(header.utf8)
            let client = try await Self.connect(through: broker, header: prefix)
            try await client.expectClosed()
            #expect(authenticator.requests.withLockedValue { $0.isEmpty })
        }
    }

    @Test func version1LineWithoutEndIsBounded() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await broker.open()
            try await client.send(bytes: Array(("PROXY TCP4 " + String(repeating: "1", count: 200)).utf8))
            try await client.expectClosed()
        }
    }

    @Test func badVersion2CommandClosesTheConnection() async throws {
        let authenticator = Authenticator { _ in .accept() }
        try await Self.withProxyBroker(authenticator) { broker in
            let client = try await Self.connect(through: broker, header: Self.v2Signature + [0x2F, 0x11, 0x00, 0x00])
            try await client.expectClosed()
        }
    }
}
