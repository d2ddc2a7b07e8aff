import MQTT
import NIOCore
import NIOWebSocket
@testable import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// A client that floods the broker with pings and reads none of the answers: what the broker writes for it by
/// itself (PINGRESP, WebSocket pongs) counts against `maximumOutboundBytes`, and past it the broker stops
/// reading from that client, so that one connection cannot make the broker hold more than its bound. Checked
/// on every listener kind.
@Suite(.timeLimit(.minutes(2)))
struct OutboundBoundTests {
    /// WebSocket pings of 125 bytes, masked as a client sends them, `count` of them back to back: 131 bytes each.
    static func webSocketPings(_ count: Int) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0x89))
        frame.writeInteger(UInt8(0x80 | 125))
        frame.writeBytes([0x11, 0x22, 0x33, 0x44])
        frame.writeBytes(Array(repeating: UInt8(0x5A), count: 125))
        var pings = ByteBuffer()
        for _ in 0..<count { pings.writeImmutableBuffer(frame) }
        return pings
    }

    /// Connections of `broker` whose channel is not writable and still reads.
    static func connectionsReadWhileUnwritable(_ broker: MQTTBroker) async throws -> Int {
        var count = 0
        for loop in broker.core.loops {
            count += try await loop.eventLoop.submit {
                try loop.connections.elements.filter { connection in
                    let channel = connection.context.channel
                    let reading = try channel.syncOptions?.getOption(ChannelOptions.autoRead) ?? false
                    return !channel.isWritable && reading
                }.count
            }.get()
        }
        return count
    }

    /// The issue's abuse, measured on a broker in a process of its own: CONNECT, then 2,000,000 pings (262 MB)
    /// as fast as the socket takes them, never reading. Without a bound the broker answered every one and grew
    /// by 758 MB; with it, it stops reading once its pongs fill `maximumOutboundBytes` (1 MiB), and its resident
    /// memory stays within a bound that leaves room for allocator noise.
    @Test(arguments: [false, true])
    func webSocketPingFloodLeavesTheBrokerBounded(tls: Bool) async throws {
        let certificates = try TestCertificates.get()
        var yaml = """
            sys_interval: 0
            threads: 2
            log_level: notice
            listeners:
              flood:
                host: 127.0.0.1
                port: 0
                protocol: \(tls ? "wss" : "ws")
                path: /mqtt

            """
        if tls {
            yaml += "    tls:\n      certificate: \(certificates.serverCertificate)\n      key: \(certificates.serverKey)\n"
        }
        let broker = try await ChildBroker.start(yaml: yaml)
        do {
            let client = try await RawClient.open(
                port: broker.port, version: .v3_1_1, transport: try WebSocketFramingTests.transport(tls: tls))
            try await client.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "ping-flood")))
            #expect(try await client.expectConnAck().reasonCode == .success)
            let before = try broker.residentBytes()

            try await client.setReading(false)
            let outcome = try await Flood.run(on: client.channel, chunk: Self.webSocketPings(500), chunks: 4_000)
            let during = try broker.residentBytes()
            // The broker stopped taking pings long before the 2,000,000th: what it read is bounded, not timed.
            #expect(outcome.stalled)
            #expect(during - before < 64 << 20, "the broker grew by \((during - before) >> 20) MiB during the flood")

            await client.drop()
            // A fresh connection's round trip: the abusive one is over for the broker by the time this is answered
            // on the same loop, or soon after on the other.
            let probe = try await RawClient.open(port: broker.port, version: .v3_1_1, transport: try WebSocketFramingTests.transport(tls: tls))
            try await probe.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "after-flood")))
            _ = try await probe.expectConnAck()
            let after = try broker.residentBytes()
            print("""
                \(tls ? "wss" : "ws") ping flood: \(outcome.chunksWritten * 500) pings written before the broker stopped reading; \
                broker resident memory \(before >> 10) KiB before, \(during >> 10) KiB during, \(after >> 10) KiB after the connection closed
                """)
            await probe.drop()
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }

    /// The same abuse with PINGREQ on `mqtt` and `mqtts`, measured in-process: the bytes the broker read from the
    /// flooding client stay within its outbound bound plus what the sockets between them hold.
    @Test(arguments: [false, true])
    func pingRequestFloodStopsTheBrokerReading(tls: Bool) async throws {
        let certificates = try TestCertificates.get()
        let transport: BrokerConfiguration.Listener.Transport = tls ? .tls(try certificates.serverConfiguration()) : .tcp
        try await TestBroker.with({
            $0.listeners = [.init(host: "127.0.0.1", port: 0, transport: transport)]
            $0.limits.maximumOutboundBytes = 65_536
        }) { broker in
            let client = try await RawClient.open(
                port: broker.port, version: .v3_1_1, transport: tls ? try RawTransport.tls(certificates.clientConfiguration()) : nil)
            try await client.send(.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "pingreq-flood")))
            #expect(try await client.expectConnAck().reasonCode == .success)
            // A small receive buffer, not grown by the kernel, so that the broker's answers back up soon.
            try await client.channel.setOption(.socketOption(.so_rcvbuf), value: 16_384).get()
            try await client.setReading(false)

            // 64 MiB of PINGREQ, 2 bytes each.
            var pings = ByteBuffer()
            for _ in 0..<32_768 { pings.writeBytes([0xC0, 0x00]) }
            let outcome = try await Flood.run(on: client.channel, chunk: pings, chunks: 1_024)
            let statistics = try await broker.broker.statistics()
            #expect(outcome.stalled)
            #expect(statistics.outboundLimitReached >= 1)
            // The invariant itself, whatever the build's speed: a connection whose output is full is not read.
            #expect(try await Self.connectionsReadWhileUnwritable(broker.broker) == 0)
            // The broker's send buffer (at most 4 MiB as Linux sizes it), the client's receive buffer and the
            // outbound bound: what it read beyond that is what it would have held.
            #expect(statistics.bytesReceived < 16 << 20, "the broker read \(statistics.bytesReceived >> 20) MiB")
            await client.drop()
        }
    }
}
