import MQTT
import NIOCore

/// One load-generating MQTT connection: it connects, then either publishes a fixed number of messages as fast
/// as the socket (QoS 0) or the inflight window (QoS 1/2) allows, or subscribes and counts what arrives.
final class BenchConnection: ChannelInboundHandler, @unchecked Sendable {
    // Sendable proof: all state is touched on the channel's event loop only; other threads reach the handler
    // solely through futures completed on that loop.
    typealias InboundIn = Packet
    typealias OutboundOut = ByteBuffer

    enum Role {
        case publisher(topic: String, count: Int, publisherIndex: Int)
        case subscriber(filter: String)
    }

    let role: Role
    let qos: QoS
    let version: ProtocolVersion
    let payloadSize: Int
    let inflightWindow: Int
    let connected: EventLoopPromise<Void>
    let finishedPublishing: EventLoopPromise<Void>
    let clientIdentifier: String
    let receiver: BenchReceiver?

    private var context: ChannelHandlerContext!
    private var sent = 0
    private var acknowledged = 0
    private var inflight = 0
    private var nextPacketIdentifier: UInt16 = 0
    private var scratch: ByteBuffer

    init(role: Role, qos: QoS, version: ProtocolVersion, payloadSize: Int, inflightWindow: Int, clientIdentifier: String, receiver: BenchReceiver?, eventLoop: any EventLoop) {
        self.role = role
        self.qos = qos
        self.version = version
        self.payloadSize = max(payloadSize, BenchPayload.headerSize)
        self.inflightWindow = inflightWindow
        self.clientIdentifier = clientIdentifier
        self.receiver = receiver
        self.connected = eventLoop.makePromise()
        self.finishedPublishing = eventLoop.makePromise()
        self.scratch = ByteBuffer()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: 300)))
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connected.fail(ChannelError.ioOnClosedChannel)
        finishedPublishing.fail(ChannelError.ioOnClosedChannel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connected.fail(error)
        finishedPublishing.fail(error)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .connAck(let ack):
            guard !ack.reasonCode.isFailure else {
                connected.fail(BenchError.refused(ack.reasonCode))
                return
            }
            if case .subscriber(let filter) = role {
                send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: filter, qos: qos)])))
            } else {
                connected.succeed()
            }
        case .subAck:
            connected.succeed()
        case .publish(let publish):
            receiver?.received(publish.payload)
            if let identifier = publish.packetIdentifier {
                let ack = AcknowledgementPacket(packetIdentifier: identifier)
                send(publish.qos == .atLeastOnce ? .pubAck(ack) : .pubRec(ack))
            }
        case .pubRel(let ack):
            send(.pubComp(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier)))
        case .pubAck, .pubComp:
            inflight -= 1
            acknowledged += 1
            pump()
        case .pubRec(let ack):
            send(.pubRel(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier)))
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump() }
        context.fireChannelWritabilityChanged()
    }

    /// Starts publishing; called on the channel's loop once every connection of the run is connected.
    func startPublishing() {
        pump()
    }

    private func pump() {
        guard case .publisher(let topic, let count, let publisherIndex) = role else { return }
        var wrote = false
        while sent < count && context.channel.isWritable && (qos == .atMostOnce || inflight < inflightWindow) {
            var identifier: UInt16?
            if qos != .atMostOnce {
                nextPacketIdentifier = nextPacketIdentifier == .max ? 1 : nextPacketIdentifier + 1
                identifier = nextPacketIdentifier
                inflight += 1
            }
            scratch.clear()
            BenchPayload.write(sequence: UInt64(sent), publisher: UInt32(publisherIndex), size: payloadSize, to: &scratch)
            sent += 1
            send(.publish(PublishPacket(topic: topic, payload: scratch, qos: qos, packetIdentifier: identifier)))
            wrote = true
        }
        if wrote { context.flush() }
        if sent == count && (qos == .atMostOnce || acknowledged == count) {
            finishedPublishing.succeed()
        }
    }

    private func send(_ packet: Packet) {
        var buffer = context.channel.allocator.buffer(capacity: packet.encodedSize(version: version))
        try? packet.write(to: &buffer, version: version)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}

enum BenchError: Error, CustomStringConvertible {
    case refused(ReasonCode)
    case timedOut(received: Int, expected: Int)

    var description: String {
        switch self {
        case .refused(let code): "connection refused: \(code)"
        case .timedOut(let received, let expected): "timed out with \(received) of \(expected) messages delivered"
        }
    }
}
