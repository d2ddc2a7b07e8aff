import MQTT
import NIOCore

/// One short-lived connection of the churn soak: it connects, subscribes to a topic of its own, publishes one
/// QoS 1 message there, takes it back and acknowledges it, then ends, with a DISCONNECT or by dropping the
/// socket. A connection taken over by a later one with the same client identifier only connects and waits to
/// be closed.
final class ChurnConnection: ChannelInboundHandler, @unchecked Sendable {
    // Sendable proof: all state is touched on the channel's event loop only; other threads reach the handler
    // solely through its promises, completed on that loop.
    typealias InboundIn = Packet
    typealias OutboundOut = ByteBuffer

    struct Plan: Sendable {
        var version: ProtocolVersion
        var clientIdentifier: String
        var topic: String
        /// nil: clean session; otherwise the Session Expiry Interval (5.0) of a session that outlives the connection.
        var sessionExpiry: UInt32?
        /// Ends with DISCONNECT, or else drops the socket as a failing network would.
        var disconnects: Bool
        /// Only connects, then waits for the broker to close it when a later connection takes its session.
        var awaitsTakeOver: Bool
        var userName: String? = nil
        var password: String? = nil
    }

    let plan: Plan
    /// Succeeded with the CONNACK.
    let connected: EventLoopPromise<Void>
    /// Succeeded once the connection has done its part and is closed.
    let finished: EventLoopPromise<Void>

    private var context: ChannelHandlerContext?
    private var acknowledged = false
    private var receivedBack = false

    init(plan: Plan, eventLoop: any EventLoop) {
        self.plan = plan
        self.connected = eventLoop.makePromise()
        self.finished = eventLoop.makePromise()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        var properties: Properties = []
        if plan.version == .v5, let expiry = plan.sessionExpiry { properties.append(.sessionExpiryInterval(expiry)) }
        send(.connect(ConnectPacket(
            protocolVersion: plan.version, clientIdentifier: plan.clientIdentifier, cleanStart: plan.sessionExpiry == nil,
            keepAlive: 60, userName: plan.userName, password: plan.password.map { ByteBuffer(string: $0) }, properties: properties)))
        context.flush()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        connected.fail(ChannelError.ioOnClosedChannel)
        if plan.awaitsTakeOver || (acknowledged && receivedBack) {
            finished.succeed()
        } else {
            finished.fail(ChurnError.closedEarly)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connAck(let ack):
            guard !ack.reasonCode.isFailure else {
                connected.fail(BenchError.refused(ack.reasonCode))
                context.close(promise: nil)
                return
            }
            connected.succeed()
            guard !plan.awaitsTakeOver else { return }
            send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: plan.topic, qos: .atLeastOnce)])))
        case .subAck:
            send(.publish(PublishPacket(
                topic: plan.topic, payload: ByteBuffer(string: plan.clientIdentifier), qos: .atLeastOnce, packetIdentifier: 2)))
        case .pubAck:
            acknowledged = true
            finishIfDone()
        case .publish(let publish):
            if let identifier = publish.packetIdentifier { send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier))) }
            receivedBack = true
            finishIfDone()
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    private func finishIfDone() {
        guard acknowledged, receivedBack, let context else { return }
        if plan.disconnects { send(.disconnect(DisconnectPacket())) }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
        context.close(promise: nil)
    }

    private func send(_ packet: Packet) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: packet.encodedSize(version: plan.version))
        try? packet.write(to: &buffer, version: plan.version)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}

enum ChurnError: Error, CustomStringConvertible {
    case closedEarly
    case timedOut

    var description: String {
        switch self {
        case .closedEarly: "the connection closed before its message came back"
        case .timedOut: "the connection did not finish within 10 seconds"
        }
    }
}
