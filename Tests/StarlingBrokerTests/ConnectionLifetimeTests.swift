import MQTT
import NIOCore
import NIOSSL
@testable import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// Nothing of a connection outlives it: once it has ended, its handler, its channel (with its pipeline) and, when
/// the session ends with it, its session are freed, however it ended. Counted through the weak references debug
/// builds keep of every handler, session and channel the broker makes.
@Suite struct ConnectionLifetimeTests {
    /// One broker with a listener of each kind: plain (hibernating quickly), TLS, WebSocket and secure WebSocket.
    static func withBroker(
        _ configure: @escaping (inout BrokerConfiguration) -> Void = { _ in },
        _ body: (TestBroker, Listeners) async throws -> Void
    ) async throws {
        let certificates = try TestCertificates.get()
        let server = try certificates.serverConfiguration()
        try await TestBroker.with({ configuration in
            configuration.listeners = [
                .init(host: "127.0.0.1", port: 0),
                .init(host: "127.0.0.1", port: 0, transport: .tls(server)),
                .init(host: "127.0.0.1", port: 0, transport: .webSocket(path: "/mqtt")),
                .init(host: "127.0.0.1", port: 0, transport: .webSocketTLS(path: "/mqtt", server)),
            ]
            configuration.limits.hibernateAfter = .milliseconds(300)
            configure(&configuration)
        }) { broker in
            let listeners = Listeners(
                plain: broker.addresses[0].port!, tls: broker.addresses[1].port!, webSocket: broker.addresses[2].port!,
                secureWebSocket: broker.addresses[3].port!, client: try certificates.clientConfiguration())
            try await body(broker, listeners)
            try await broker.expectNothingLeft()
        }
    }

    struct Listeners: Sendable {
        let plain: Int
        let tls: Int
        let webSocket: Int
        let secureWebSocket: Int
        let client: TLSConfiguration

        /// Each listener's port with the transport a client speaks MQTT over there.
        var all: [(port: Int, transport: RawClient.Transport?)] {
            get throws {
                [
                    (plain, nil), (tls, try RawTransport.tls(client)), (webSocket, try RawTransport.webSocket()),
                    (secureWebSocket, try RawTransport.webSocket(tls: client)),
                ]
            }
        }
    }

    @Test func cleanConnectionsOfEveryVersionAndListenerLeaveNothing() async throws {
        try await Self.withBroker { broker, listeners in
            for (index, (port, transport)) in try listeners.all.enumerated() {
                for version in [ProtocolVersion.v3_1_1, .v5] {
                    // Ended by DISCONNECT, after some traffic.
                    let client = try await RawClient.open(port: port, version: version, transport: transport)
                    try await client.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "clean-\(index)-\(version)")))
                    #expect(try await client.expectConnAck().reasonCode == .success)
                    try await client.subscribe("lifetime/#", qos: .atLeastOnce)
                    let echoed = try await client.publishQoS1ToItself("lifetime/\(index)", "hello")
                    try await client.send(.pubAck(AcknowledgementPacket(packetIdentifier: echoed.packetIdentifier!)))
                    try await client.disconnect()

                    // Dropped without DISCONNECT.
                    let dropped = try await RawClient.open(port: port, version: version, transport: transport)
                    try await dropped.send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: "dropped-\(index)-\(version)")))
                    #expect(try await dropped.expectConnAck().reasonCode == .success)
                    await dropped.drop()
                }
            }
        }
    }

    @Test func persistentSessionsLeaveNothingOnceTheyExpire() async throws {
        try await Self.withBroker { broker, listeners in
            for (index, (port, transport)) in try listeners.all.enumerated() {
                let client = try await RawClient.open(port: port, version: .v5, transport: transport)
                try await client.send(.connect(ConnectPacket(
                    protocolVersion: .v5, clientIdentifier: "persistent-\(index)", cleanStart: false,
                    properties: [.sessionExpiryInterval(1)])))
                #expect(try await client.expectConnAck().reasonCode == .success)
                try await client.subscribe("kept/#", qos: .atLeastOnce)
                await client.drop()
            }
            // A message queued for the sessions while their clients are away.
            await broker.broker.publish(topic: "kept/queued", payload: ByteBuffer(string: "for later"), qos: .atLeastOnce)
        }
    }

    @Test func connectionsWithoutAnAcceptedConnectLeaveNothing() async throws {
        // Long enough for a loaded machine to answer the CONNECTs below in time: beside the whole suite on 2
        // cores, 3 s was not (a TLS client's handshake was cut short before its CONNECT).
        try await Self.withBroker({ $0.limits.connectTimeout = .seconds(15) }) { broker, listeners in
            // Nothing sent at all: the broker closes the connection when the connect timeout runs out. A
            // handshake that never comes, on the TLS and WebSocket listeners: their handshake timeout. Opened
            // first, so that their timeouts run out while the rest goes on.
            var silent: [RawClient] = []
            for (port, transport) in try listeners.all {
                silent.append(try await RawClient.open(port: port, version: .v5, transport: transport))
            }
            for port in [listeners.tls, listeners.webSocket, listeners.secureWebSocket] {
                silent.append(try await RawClient.open(port: port, version: .v5))
            }
            for (port, transport) in try listeners.all {
                // Closed by the client before CONNECT, before any handshake too.
                await (try await RawClient.open(port: port, version: .v5)).drop()
                await (try await RawClient.open(port: port, version: .v5, transport: transport)).drop()
                // An unsupported protocol version, refused with a CONNACK.
                let refused = try await RawClient.open(port: port, version: .v5, transport: transport)
                try await refused.send(bytes: [0x10, 0x0D, 0x00, 0x04] + Array("MQTT".utf8) + [0x07, 0x02, 0x00, 0x00, 0x00, 0x01, 0x61])
                #expect(try await refused.expectConnAck().reasonCode == .unsupportedProtocolVersion)
                try await refused.expectClosed()
                // A first packet that is not CONNECT.
                let rude = try await RawClient.open(port: port, version: .v5, transport: transport)
                try await rude.send(.pingReq)
                try await rude.expectClosed()
            }
            // The TLS client's own handshake may be cut short too: only the close matters.
            for client in silent { _ = try await client.expectClosedWithoutPackets() }
        }
    }

    @Test func takenOverSessionsLeaveNothing() async throws {
        try await Self.withBroker { broker, listeners in
            for (index, (port, transport)) in try listeners.all.enumerated() {
                for cleanStart in [true, false] {
                    let clientIdentifier = "taken-\(index)-\(cleanStart)"
                    var clients: [RawClient] = []
                    for _ in 0..<3 {
                        let client = try await RawClient.open(port: port, version: .v5, transport: transport)
                        try await client.send(.connect(ConnectPacket(
                            protocolVersion: .v5, clientIdentifier: clientIdentifier, cleanStart: cleanStart,
                            properties: cleanStart ? [] : [.sessionExpiryInterval(1)])))
                        #expect(try await client.expectConnAck().reasonCode == .success)
                        if let previous = clients.last {
                            #expect(try await previous.expectDisconnect().reasonCode == .sessionTakenOver)
                        }
                        clients.append(client)
                    }
                    try await clients.last!.disconnect()
                }
            }
        }
    }

    @Test func connectionsTheBrokerClosesLeaveNothing() async throws {
        try await Self.withBroker { broker, listeners in
            for (index, (port, transport)) in try listeners.all.enumerated() {
                // Keep alive: one second, and nothing sent after CONNECT.
                let quiet = try await RawClient.open(port: port, version: .v5, transport: transport)
                try await quiet.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "quiet-\(index)", keepAlive: 1)))
                #expect(try await quiet.expectConnAck().reasonCode == .success)
                #expect(try await quiet.expectDisconnect(timeout: .seconds(5)).reasonCode == .keepAliveTimeout)

                // A protocol error: a second CONNECT.
                let repeated = try await RawClient.open(port: port, version: .v5, transport: transport)
                let connect = Packet.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "twice-\(index)"))
                try await repeated.send(connect)
                #expect(try await repeated.expectConnAck().reasonCode == .success)
                try await repeated.send(connect)
                #expect(try await repeated.expectDisconnect().reasonCode == .protocolError)

                // A malformed packet: reserved packet type 0.
                let malformed = try await RawClient.open(port: port, version: .v3_1_1, transport: transport)
                try await malformed.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "malformed-\(index)")))
                #expect(try await malformed.expectConnAck().reasonCode == .success)
                try await malformed.send(bytes: [0x00, 0x00])
                try await malformed.expectClosed()

                // An administrative disconnect.
                let removed = try await RawClient.open(port: port, version: .v5, transport: transport)
                try await removed.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "removed-\(index)")))
                #expect(try await removed.expectConnAck().reasonCode == .success)
                #expect(await broker.broker.disconnect(clientIdentifier: "removed-\(index)"))
                #expect(try await removed.expectDisconnect().reasonCode == .administrativeAction)
            }
        }
    }

    @Test(.enabled(if: HibernationWatcher.isAvailable, "idle connections hibernate on Linux only"))
    func connectionsThatHibernatedLeaveNothing() async throws {
        try await Self.withBroker { broker, listeners in
            // Woken by a message, then ended by DISCONNECT.
            let woken = try await broker.client("woken", version: .v3_1_1)
            try await woken.subscribe("wake/#")
            try await broker.waitForHibernating(1)
            try await woken.send(.pingReq)
            #expect(try await woken.nextPacket() == .pingResp)
            #expect(try await woken.publishQoS1ToItself("wake/up", "a message that wakes it").topic == "wake/up")
            try await woken.disconnect()

            // Dropped while asleep.
            let dropped = try await broker.client("dropped-asleep")
            try await broker.waitForHibernating(1)
            await dropped.drop()
            try await broker.waitForHibernating(0)

            // Closed by the broker while asleep.
            let removed = try await broker.client("removed-asleep")
            try await broker.waitForHibernating(1)
            #expect(await broker.broker.disconnect(clientIdentifier: "removed-asleep"))
            #expect(try await removed.expectDisconnect().reasonCode == .administrativeAction)
        }
    }
}

extension TestBroker {
    /// Waits until no connection handler, session or channel the broker made is allocated any more; fails with
    /// what is left if that does not happen within `timeout`. A connection closed with unread input lingers for
    /// `ConnectionHandler.lingerTime` before its socket closes, so the wait is longer than that.
    func expectNothingLeft(timeout: Duration = .seconds(15), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #if DEBUG
        let live = broker.core.liveObjects
        let deadline = ContinuousClock.now + timeout
        var left: [LiveObjects.Kind: Int] = [:]
        repeat {
            left = [:]
            for kind in LiveObjects.Kind.allCases where live.count(kind) > 0 { left[kind] = live.count(kind) }
            if left.isEmpty { return }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        Issue.record("still allocated \(timeout) after every connection ended: \(left)", sourceLocation: sourceLocation)
        #endif
    }
}
