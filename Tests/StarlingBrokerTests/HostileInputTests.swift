#if canImport(Glibc)
import Glibc

private let openFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#elseif canImport(Darwin)
import Darwin

private let openFiles = RLIMIT_NOFILE
#endif
import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import StarlingTestSupport
import Testing

/// Input no client should send: garbage, truncated packets, absurd lengths, trickled bytes and idle sockets.
/// Each test ends by checking that a well-behaved client is still served.
@Suite struct HostileInputTests {
    /// Connects, subscribes, publishes and receives: the broker still works.
    static func expectHealthy(_ broker: TestBroker, version: ProtocolVersion = .v5) async throws {
        let subscriber = try await broker.client("healthy-subscriber", version: version)
        try await subscriber.subscribe("health/t", qos: .atLeastOnce)
        let publisher = try await broker.client("healthy-publisher", version: version)
        try await publisher.publishQoS1("health/t", "ok")
        let received = try await subscriber.expectPublish()
        #expect(received.payloadString == "ok")
        try await subscriber.disconnect()
        try await publisher.disconnect()
    }

    /// Waits for the broker to close `client`, allowing the packets a malformed stream may have earned first
    /// (a PINGRESP for bytes that happened to spell PINGREQ, a DISCONNECT with a reason).
    static func expectEventuallyClosed(_ client: RawClient) async throws {
        while true {
            if case .closed = try await client.next() { return }
        }
    }

    /// 3.1.1 MQTT-3.1.4-1, 5.0 MQTT-3.1.4-1 and 4.13: random bytes instead of CONNECT, and random bytes after a
    /// valid CONNECT, end the connection (at the latest by the connect timeout or the keep alive), never the broker.
    @Test func randomBytesCloseTheConnectionOnly() async throws {
        // Two seconds: short, yet long enough for a loaded machine to answer the valid CONNECTs below in time.
        try await TestBroker.with({ $0.limits.connectTimeout = .seconds(2) }) { broker in
            var generator = SeededGenerator(state: 20_240_601)
            var clients: [RawClient] = []
            for index in 0..<40 {
                let count = Int.random(in: 1...600, using: &generator)
                let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let version: ProtocolVersion = index.isMultiple(of: 2) ? .v5 : .v3_1_1
                // The broker may close the connection while the bytes are still being written: that write failing
                // is an outcome the test accepts, the broker going down is not.
                if index < 20 {
                    let client = try await broker.open(version: version)
                    try? await client.send(bytes: bytes)
                    clients.append(client)
                } else {
                    // keep alive 1: a stream that stops mid-packet is closed after 1.5 s.
                    let (client, _) = try await broker.connect("random-\(index)", version: version, keepAlive: 1)
                    try? await client.send(bytes: bytes)
                    clients.append(client)
                }
            }
            for client in clients { try await Self.expectEventuallyClosed(client) }
            try await Self.expectHealthy(broker)
        }
    }

    /// Every prefix of a CONNECT, and of a PUBLISH after CONNECT, followed by the client going away: the broker
    /// cleans up, and the will of a connected client that vanished mid-packet is published (MQTT-3.1.2-8).
    @Test func truncatedPacketsAreCleanedUp() async throws {
        try await TestBroker.with { broker in
            let will = ConnectPacket.Will(topic: "will/truncated", payload: ByteBuffer(string: "cut"))
            let connect = try Packet.connect(ConnectPacket(
                protocolVersion: .v5, clientIdentifier: "truncated", will: will, properties: [.sessionExpiryInterval(0)]
            )).encoded(version: .v5)
            let connectBytes = Array(connect.readableBytesView)
            for length in 1..<connectBytes.count {
                let client = try await broker.open()
                try await client.send(bytes: Array(connectBytes[0..<length]))
                await client.drop()
            }

            let watcher = try await broker.client("watcher")
            try await watcher.subscribe("will/truncated")
            let publish = try Packet.publish(PublishPacket(
                topic: "some/topic", payload: ByteBuffer(string: "payload"), qos: .atLeastOnce, packetIdentifier: 1
            )).encoded(version: .v5)
            let publishBytes = Array(publish.readableBytesView)
            for length in 1..<publishBytes.count {
                let client = try await broker.client("truncated", will: will)
                try await client.send(bytes: Array(publishBytes[0..<length]))
                await client.drop()
                let published = try await watcher.expectPublish()
                #expect(published.topic == "will/truncated")
            }
            try await Self.expectHealthy(broker)
        }
    }

    /// The largest remaining length there is (268,435,455) is refused from its fixed header, without waiting
    /// for (or buffering) the body: before CONNECT the connection is closed, after it a 5.0 client is told 0x95.
    @Test func maximumRemainingLengthIsRefusedAtOnce() async throws {
        try await TestBroker.with { broker in
            let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0x7F]
            let beforeConnect = try await broker.open()
            try await beforeConnect.send(bytes: [0x10] + header)
            try await beforeConnect.expectClosed()

            let v5 = try await broker.client("huge-v5", version: .v5)
            try await v5.send(bytes: [0x30] + header)
            #expect(try await v5.expectDisconnect().reasonCode == .packetTooLarge)
            try await v5.expectClosed()

            let v311 = try await broker.client("huge-v311", version: .v3_1_1)
            try await v311.send(bytes: [0x30] + header)
            try await v311.expectClosed()

            try await Self.expectHealthy(broker)
        }
    }

    /// A client whose packets arrive one byte at a time is served like any other: the decoder waits for whole
    /// packets. The pauses make each byte a separate read; they synchronise nothing.
    @Test(arguments: [ProtocolVersion.v3_1_1, .v5])
    func packetsTrickledOneByteAtATimeAreDecoded(version: ProtocolVersion) async throws {
        // The 5 ms pauses can each take far longer beside the whole suite on 2 cores: the CONNECT must not meet
        // the connect timeout (10 s) on the way, which is not what this test is about.
        try await TestBroker.with({ $0.limits.connectTimeout = .seconds(300) }) { broker in
            let watcher = try await broker.client("watcher", version: version)
            try await watcher.subscribe("slow/#", qos: .atLeastOnce)
            let client = try await broker.open(version: version)
            let connect = Packet.connect(ConnectPacket(
                protocolVersion: version, clientIdentifier: "trickle", keepAlive: 30, userName: "user",
                password: ByteBuffer(string: "secret"),
                will: ConnectPacket.Will(topic: "slow/will", payload: ByteBuffer(string: "w")),
                properties: version == .v5 ? [.receiveMaximum(10), .userProperty("k", "v")] : []))
            let publish = Packet.publish(PublishPacket(
                topic: "slow/t", payload: ByteBuffer(string: "trickled"), qos: .atLeastOnce, packetIdentifier: 3))
            let bytes = Array(try connect.encoded(version: version).readableBytesView) + Array(try publish.encoded(version: version).readableBytesView)
            for byte in bytes {
                try await client.send(bytes: [byte])
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(try await client.expectConnAck().reasonCode == .success)
            #expect(try await client.expectPubAck().packetIdentifier == 3)
            #expect(try await watcher.expectPublish().payloadString == "trickled")
        }
    }

    /// Connections that never send CONNECT do not stop the broker from serving others, and each is closed by
    /// the connect timeout (5.0 §3.1.4).
    @Test func silentConnectionsDoNotStarveOthers() async throws {
        // Both ends of 1,000 sockets live in this process.
        Self.raiseOpenFileLimit(to: 2_500)
        try await TestBroker.with({ $0.limits.connectTimeout = .seconds(1) }) { broker in
            var silent: [RawClient] = []
            for _ in 0..<1_000 { silent.append(try await broker.open()) }
            try await Self.expectHealthy(broker)
            try await Self.expectHealthy(broker, version: .v3_1_1)
            for client in silent { try await client.expectClosed() }
            try await Self.expectHealthy(broker)
        }
    }

    static func raiseOpenFileLimit(to wanted: rlim_t) {
        var limit = rlimit()
        guard getrlimit(openFiles, &limit) == 0, limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        _ = setrlimit(openFiles, &limit)
    }
}
