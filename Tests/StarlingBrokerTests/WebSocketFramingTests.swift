import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket
import StarlingBroker
import StarlingTestSupport
import StarlingWebSocket
import StarlingTesting
import Testing

/// The rules RFC 6455 sets a server, on `ws` and `wss` alike: a frame that breaks one fails the connection with
/// a close frame naming why, before anything it carries reaches MQTT.
@Suite struct WebSocketFramingTests {
    /// A frame as a test sends it.
    struct Frame: Sendable {
        var opcode: WebSocketOpcode
        var bytes: [UInt8]
        var fin = true
        var masked = true
        var rsv1 = false
    }

    /// Frames that break a rule, and the status of the close frame the broker must answer them with.
    struct Violation: Sendable, CustomTestStringConvertible {
        var name: String
        var frames: [Frame]
        var status: WebSocketErrorCode
        var testDescription: String { name }
    }

    /// A 3.1.1 CONNECT: carried by a frame the broker must refuse, it must not get a CONNACK.
    static let connect: [UInt8] = {
        let packet = Packet.connect(ConnectPacket(protocolVersion: .v3_1_1, clientIdentifier: "ws-rules"))
        return (try? Array(packet.encoded(version: .v3_1_1).readableBytesView)) ?? []
    }()

    static let violations: [Violation] = [
        // 5.1: a server must close the connection on an unmasked client frame.
        Violation(name: "unmasked frame", frames: [Frame(opcode: .binary, bytes: connect, masked: false)], status: .protocolError),
        // 5.4: a continuation frame continues a message; with none begun it is a protocol error.
        Violation(name: "continuation without a message", frames: [Frame(opcode: .continuation, bytes: connect)], status: .protocolError),
        // 5.4: the fragments of one message are not interleaved with another data message.
        Violation(name: "data frame inside a fragmented message", frames: [
            Frame(opcode: .binary, bytes: Array(connect.prefix(3)), fin: false),
            Frame(opcode: .binary, bytes: Array(connect.dropFirst(3))),
        ], status: .protocolError),
        // 5.2: reserved bits are set only by negotiated extensions, and none is.
        Violation(name: "reserved bit", frames: [Frame(opcode: .binary, bytes: connect, rsv1: true)], status: .protocolError),
        Violation(name: "reserved opcode", frames: [Frame(opcode: WebSocketOpcode(encodedWebSocketOpcode: 3)!, bytes: connect)], status: .protocolError),
        // 5.5: control frames are never fragmented and carry at most 125 bytes.
        Violation(name: "fragmented ping", frames: [Frame(opcode: .ping, bytes: [1, 2, 3], fin: false)], status: .protocolError),
        Violation(name: "126-byte ping", frames: [Frame(opcode: .ping, bytes: Array(repeating: 0x61, count: 126))], status: .protocolError),
        // 5.5.1, 7.4: a close status is two bytes and one a peer may send.
        Violation(name: "one-byte close status", frames: [Frame(opcode: .connectionClose, bytes: [0x03])], status: .protocolError),
        Violation(name: "close status 1005", frames: [Frame(opcode: .connectionClose, bytes: [0x03, 0xED])], status: .protocolError),
        // 8.1: the close reason is UTF-8; 7.4.1: 1007 for data that does not match its type.
        Violation(name: "close reason not UTF-8", frames: [Frame(opcode: .connectionClose, bytes: [0x03, 0xE8, 0xC3, 0x28])],
            status: .dataInconsistentWithMessage),
        // MQTT-6.0.0-1: MQTT travels in binary frames.
        Violation(name: "text frame", frames: [Frame(opcode: .text, bytes: connect)], status: .unacceptableData),
    ]

    @Test(arguments: violations, [false, true])
    func violationFailsTheConnection(_ violation: Violation, tls: Bool) async throws {
        try await WebSocketListenerTests.withWebSocketBroker(tls: tls) { broker in
            let client = try await RawClient.open(port: broker.port, version: .v3_1_1, transport: try Self.transport(tls: tls))
            let closeStatus = try await Self.send(violation.frames, on: client)
            try await client.expectClosed()
            #expect(closeStatus.withLockedValue { $0 } == UInt16(webSocketErrorCode: violation.status))
            let statistics = try await broker.broker.statistics()
            #expect(statistics.webSocketViolations == 1)
        }
    }

    @Test(arguments: [false, true])
    func closeHandshakeIsAnswered(tls: Bool) async throws {
        try await WebSocketListenerTests.withWebSocketBroker(tls: tls) { broker in
            let client = try await broker.connect(over: try Self.transport(tls: tls), "ws-close", version: .v3_1_1)
            // 5.5.1: the endpoint that receives a close frame answers with one, here echoing the status.
            let closeStatus = try await Self.send([Frame(opcode: .connectionClose, bytes: [0x0F, 0xA0] + Array("done".utf8))], on: client)
            try await client.expectClosed()
            #expect(closeStatus.withLockedValue { $0 } == 4000)
            #expect(try await broker.broker.statistics().webSocketViolations == 0)
        }
    }

    @Test func everyStatusAPeerMaySendIsAccepted() {
        let accepted = (0...UInt16.max).filter(WebSocketStreamHandler.mayBeSent(statusCode:))
        #expect(accepted.count == 4 + 8 + 2000)
        for refused: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            #expect(!WebSocketStreamHandler.mayBeSent(statusCode: refused))
        }
    }

    static func transport(tls: Bool) throws -> RawClient.Transport {
        try RawTransport.webSocket(tls: tls ? try TestCertificates.get().clientConfiguration() : nil)
    }

    /// Sends `frames` as they are and returns where the status of the broker's close frame will be.
    static func send(_ frames: [Frame], on client: RawClient) async throws -> NIOLockedValueBox<UInt16?> {
        try await client.channel.eventLoop.submit {
            let handler = try client.channel.pipeline.syncOperations.handler(type: ClientWebSocketFrames.self)
            for frame in frames {
                handler.send(frame.opcode, frame.bytes, fin: frame.fin, masked: frame.masked, rsv1: frame.rsv1)
            }
            return handler.receivedCloseStatus
        }.get()
    }
}
