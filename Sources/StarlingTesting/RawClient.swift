import MQTT
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bare MQTT connection for conformance tests: it sends exactly the packets (or bytes) it is given, encoded
/// by the `MQTT` module, and reports exactly what the broker sends back, with no protocol logic of its own.
///
/// ```swift
/// let client = try await RawClient.open(port: broker.port, version: .v5)
/// try await client.send(.connect(ConnectPacket(protocolVersion: .v5, clientIdentifier: "probe")))
/// #expect(try await client.expectConnAck().reasonCode == .success)
/// ```
///
/// Everything the broker sends is queued in order; `next()` waits for the front of the queue. Its timeout only
/// turns a broker that never answers into a failure instead of a hung test: no test waits for it to pass.
public final class RawClient: Sendable {
    /// The connection, for tests that reach into its pipeline (a transport's handler, say).
    public let channel: any Channel
    /// The protocol version its packets are encoded and decoded with.
    public let version: ProtocolVersion
    private let inbox: NIOLoopBound<Inbox>

    /// What the broker did, in the order it did it.
    public enum Event: Sendable, CustomStringConvertible {
        /// A packet, decoded with the connection's protocol version.
        case packet(Packet)
        /// The bytes could not be decoded as a packet of the connection's version.
        case undecodable(String)
        /// The broker closed the connection.
        case closed

        /// The packet, the decoding error or the close, for failure messages.
        public var description: String {
            switch self {
            case .packet(let packet): "\(packet)"
            case .undecodable(let error): "undecodable bytes (\(error))"
            case .closed: "connection closed"
            }
        }
    }

    /// What a test expected and what happened instead.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, in words a failing test prints.
        public var description: String

        /// A failure that says `description`.
        public init(description: String) {
            self.description = description
        }
    }

    /// Only a guard against a hang: a loaded machine running every suite at once can take seconds to answer.
    public static let defaultTimeout = TimeAmount.seconds(20)

    private init(channel: any Channel, version: ProtocolVersion, inbox: NIOLoopBound<Inbox>) {
        self.channel = channel
        self.version = version
        self.inbox = inbox
    }

    /// Sets up what the MQTT stream runs over (TLS, a WebSocket) on a new channel, calls `addMQTT` once that
    /// stream is ready and returns a future that succeeds then.
    public typealias Transport = @Sendable (_ channel: any Channel, _ addMQTT: @escaping @Sendable () throws -> Void) throws -> EventLoopFuture<Void>

    /// Opens a connection to the broker at `host` and `port`, over `transport` if one is given (see
    /// `RawTransport`), without sending anything.
    public static func open(
        host: String = "127.0.0.1", port: Int, version: ProtocolVersion, transport: Transport? = nil
    ) async throws -> RawClient {
        // The inbox is kept from the initializer rather than looked up afterwards: the broker may already have
        // closed the connection (and the pipeline emptied) by the time the connect future completes.
        let installed = NIOLockedValueBox<NIOLoopBound<Inbox>?>(nil)
        let ready = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let addMQTT: @Sendable () throws -> Void = {
                        let sync = channel.pipeline.syncOperations
                        let inbox = Inbox()
                        try sync.addHandler(ByteToMessageHandler(PacketDecoder(version: version)))
                        try sync.addHandler(MessageToByteHandler(OutboundEncoder(version: version)))
                        try sync.addHandler(inbox)
                        installed.withLockedValue { $0 = NIOLoopBound(inbox, eventLoop: channel.eventLoop) }
                    }
                    if let transport {
                        let future = try transport(channel, addMQTT)
                        ready.withLockedValue { $0 = future }
                    } else {
                        try addMQTT()
                    }
                }
            }
            .connect(host: host, port: port).get()
        if let future = ready.withLockedValue({ $0 }) { try await future.get() }
        guard let inbox = installed.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
        return RawClient(channel: channel, version: version, inbox: inbox)
    }

    // MARK: Sending

    /// Sends one packet.
    public func send(_ packet: Packet) async throws {
        try await channel.writeAndFlush(Outbound.packet(packet))
    }

    /// Sends several packets in one write, so the broker reads them in one burst.
    public func send(_ packets: [Packet]) async throws {
        for packet in packets { channel.write(Outbound.packet(packet), promise: nil) }
        try await channel.writeAndFlush(Outbound.bytes(ByteBuffer()))
    }

    /// Sends bytes as they are, for packets the codec would refuse to write.
    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(Outbound.bytes(ByteBuffer(bytes: bytes)))
    }

    /// Closes the connection without DISCONNECT, as a network failure would.
    public func drop() async {
        try? await channel.close()
    }

    // MARK: Receiving

    /// Stops or resumes reading from the socket, as a client too busy to read would.
    public func setReading(_ reading: Bool) async throws {
        try await channel.setOption(.autoRead, value: reading).get()
    }

    /// The next thing the broker did; throws if it did nothing within `timeout`.
    public func next(timeout: TimeAmount = defaultTimeout) async throws -> Event {
        let inbox = self.inbox
        let eventLoop = channel.eventLoop
        return try await eventLoop.flatSubmit { inbox.value.next(timeout: timeout) }.get()
    }

    /// The next packet; throws if the broker closed the connection or sent bytes that are not a packet.
    public func nextPacket(timeout: TimeAmount = defaultTimeout) async throws -> Packet {
        let event = try await next(timeout: timeout)
        guard case .packet(let packet) = event else {
            throw Failure(description: "expected a packet, got \(event)")
        }
        return packet
    }

    /// Waits for the broker to close the connection; throws if it sends anything first.
    public func expectClosed(timeout: TimeAmount = defaultTimeout) async throws {
        let event = try await next(timeout: timeout)
        guard case .closed = event else { throw Failure(description: "expected the connection to close, got \(event)") }
    }

    /// The next packet, which must be CONNACK.
    public func expectConnAck(timeout: TimeAmount = defaultTimeout) async throws -> ConnAckPacket {
        let packet = try await nextPacket(timeout: timeout)
        guard case .connAck(let connAck) = packet else { throw Failure(description: "expected CONNACK, got \(packet)") }
        return connAck
    }

    /// The next packet, which must be PUBLISH.
    public func expectPublish(timeout: TimeAmount = defaultTimeout) async throws -> PublishPacket {
        let packet = try await nextPacket(timeout: timeout)
        guard case .publish(let publish) = packet else { throw Failure(description: "expected PUBLISH, got \(packet)") }
        return publish
    }

    /// The next packet, which must be PUBACK.
    public func expectPubAck(timeout: TimeAmount = defaultTimeout) async throws -> AcknowledgementPacket {
        let packet = try await nextPacket(timeout: timeout)
        guard case .pubAck(let ack) = packet else { throw Failure(description: "expected PUBACK, got \(packet)") }
        return ack
    }

    /// The next packet, which must be PUBREC.
    public func expectPubRec() async throws -> AcknowledgementPacket {
        let packet = try await nextPacket()
        guard case .pubRec(let ack) = packet else { throw Failure(description: "expected PUBREC, got \(packet)") }
        return ack
    }

    /// The next packet, which must be PUBREL.
    public func expectPubRel() async throws -> AcknowledgementPacket {
        let packet = try await nextPacket()
        guard case .pubRel(let ack) = packet else { throw Failure(description: "expected PUBREL, got \(packet)") }
        return ack
    }

    /// The next packet, which must be PUBCOMP.
    public func expectPubComp() async throws -> AcknowledgementPacket {
        let packet = try await nextPacket()
        guard case .pubComp(let ack) = packet else { throw Failure(description: "expected PUBCOMP, got \(packet)") }
        return ack
    }

    /// The next packet, which must be SUBACK.
    public func expectSubAck() async throws -> SubAckPacket {
        let packet = try await nextPacket()
        guard case .subAck(let subAck) = packet else { throw Failure(description: "expected SUBACK, got \(packet)") }
        return subAck
    }

    /// The next packet, which must be UNSUBACK.
    public func expectUnsubAck() async throws -> UnsubAckPacket {
        let packet = try await nextPacket()
        guard case .unsubAck(let unsubAck) = packet else { throw Failure(description: "expected UNSUBACK, got \(packet)") }
        return unsubAck
    }

    /// The next packet, which must be DISCONNECT.
    public func expectDisconnect(timeout: TimeAmount = defaultTimeout) async throws -> DisconnectPacket {
        let packet = try await nextPacket(timeout: timeout)
        guard case .disconnect(let disconnect) = packet else { throw Failure(description: "expected DISCONNECT, got \(packet)") }
        return disconnect
    }

    // MARK: Pipeline

    enum Outbound: Sendable {
        case packet(Packet)
        case bytes(ByteBuffer)
    }

    /// `PacketEncoder` for packets, and a pass-through for hand-made bytes.
    struct OutboundEncoder: MessageToByteEncoder {
        typealias OutboundIn = Outbound
        let encoder: PacketEncoder

        init(version: ProtocolVersion) {
            encoder = PacketEncoder(version: version)
        }

        func encode(data: Outbound, out: inout ByteBuffer) throws {
            switch data {
            case .packet(let packet): try encoder.encode(data: packet, out: &out)
            case .bytes(var bytes): out.writeBuffer(&bytes)
            }
        }
    }

    /// Queues what arrives until a test asks for it. Lives on the channel's event loop only.
    final class Inbox: ChannelInboundHandler {
        typealias InboundIn = Packet

        private var events: [Event] = []
        private var front = 0
        private var isClosed = false
        private var waiter: EventLoopPromise<Event>?
        /// Kept apart from the context, which is let go when the channel closes: the test may still wait on events.
        private var eventLoop: (any EventLoop)?

        func handlerAdded(context: ChannelHandlerContext) {
            eventLoop = context.eventLoop
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            deliver(.packet(unwrapInboundIn(data)))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let error = error as? IOError, error.errnoCode == ECONNRESET {
                // A broker that closes a connection with input left unread resets it: closed all the same.
                context.close(promise: nil)
                return
            }
            // A broker that sends what cannot be decoded is reported once; the stream is unusable after it.
            deliver(.undecodable("\(error)"))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            guard !isClosed else { return }
            isClosed = true
            deliver(.closed)
        }

        private func deliver(_ event: Event) {
            if let waiter {
                self.waiter = nil
                waiter.succeed(event)
            } else {
                events.append(event)
            }
        }

        /// The oldest event not yet read, or the next one to come; fails after `timeout`. One reader at a time,
        /// on the channel's event loop.
        public func next(timeout: TimeAmount) -> EventLoopFuture<Event> {
            let eventLoop = self.eventLoop!
            if front < events.count {
                let event = events[front]
                front += 1
                return eventLoop.makeSucceededFuture(event)
            }
            // A closed connection stays closed: asking again answers the same.
            if isClosed { return eventLoop.makeSucceededFuture(.closed) }
            precondition(waiter == nil, "one reader at a time")
            let promise = eventLoop.makePromise(of: Event.self)
            waiter = promise
            let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                guard let waiter, waiter.futureResult === promise.futureResult else { return }
                self.waiter = nil
                waiter.fail(Failure(description: "nothing from the broker within \(timeout)"))
            }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
    }
}
