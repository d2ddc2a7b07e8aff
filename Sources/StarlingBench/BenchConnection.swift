import MQTT
import NIOCore

/// One load-generating MQTT connection. A publisher sends until its count or deadline, as fast as the socket
/// (QoS 0) or the inflight window (QoS 1/2) allows or at a fixed rate, and never writes while the socket is
/// not writable; a subscriber counts what arrives; an idle connection only holds its session.
final class BenchConnection: ChannelInboundHandler, @unchecked Sendable {
    // Sendable proof: all state is touched on the channel's event loop only; other threads reach the handler
    // solely through tasks executed on that loop and futures completed on it.
    typealias InboundIn = Packet
    typealias OutboundOut = ByteBuffer

    struct PublishPlan: Sendable {
        var count: Int?
        var duration: TimeAmount?
        /// Messages per second of this publisher; nil for as fast as possible.
        var rate: Double?
    }

    enum Role {
        case publisher(topic: String, index: UInt32, plan: PublishPlan)
        case subscriber(filter: String)
        case idle
    }

    let role: Role
    let qos: QoS
    let version: ProtocolVersion
    let payloadSize: Int
    let inflightWindow: Int
    let keepAlive: UInt16
    let clientIdentifier: String
    let stats: BenchLoopStats
    /// Succeeded once the connection is ready: CONNACK, and SUBACK for a subscriber.
    let connected: EventLoopPromise<Void>
    /// Succeeded once a publisher has stopped sending and every message it sent was acknowledged.
    let finishedPublishing: EventLoopPromise<Void>

    private(set) var tracker = DeliveryTracker()
    private(set) var sent = 0
    private var context: ChannelHandlerContext?
    private var acknowledged = 0
    private var inflight = 0
    private var nextPacketIdentifier: UInt16 = 0
    private var startedAt: NIODeadline = .distantPast
    private var deadline: NIODeadline = .distantFuture
    private var stopped = false
    private var done = false
    private var ticker: RepeatedTask?
    private var pinger: RepeatedTask?
    private var scratch = ByteBuffer()

    init(role: Role, qos: QoS, version: ProtocolVersion, payloadSize: Int, inflightWindow: Int, keepAlive: UInt16, clientIdentifier: String, stats: BenchLoopStats) {
        self.keepAlive = keepAlive
        self.role = role
        self.qos = qos
        self.version = version
        self.payloadSize = max(payloadSize, BenchPayload.headerSize)
        self.inflightWindow = max(1, inflightWindow)
        self.clientIdentifier = clientIdentifier
        self.stats = stats
        self.connected = stats.eventLoop.makePromise()
        self.finishedPublishing = stats.eventLoop.makePromise()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        send(.connect(ConnectPacket(protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: keepAlive)))
        context.flush()
        if keepAlive > 0 {
            // Subscribers and idle connections send nothing else, so they ping to outlive a long run.
            let interval = TimeAmount.seconds(Int64(max(1, keepAlive / 2)))
            pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
                guard let self, let context = self.context else { return }
                self.send(.pingReq)
                context.flush()
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        ticker?.cancel()
        pinger?.cancel()
        stopped = true
        markDone()
        connected.fail(ChannelError.ioOnClosedChannel)
        finishedPublishing.fail(ChannelError.ioOnClosedChannel)
        self.context = nil
        context.fireChannelInactive()
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
        case .subAck(let ack):
            if let failure = ack.reasonCodes.first(where: { $0.isFailure }) {
                connected.fail(BenchError.refused(failure))
            } else {
                connected.succeed()
            }
        case .publish(let publish):
            let now = NIODeadline.now().uptimeNanoseconds
            if let header = BenchPayload.read(publish.payload) {
                stats.recordDelivery(tracker.record(sequence: header.sequence, publisher: header.publisher), sentAt: header.sentAt, at: now)
            } else {
                tracker.recordForeign()
            }
            if let identifier = publish.packetIdentifier {
                let ack = AcknowledgementPacket(packetIdentifier: identifier)
                send(publish.qos == .atLeastOnce ? .pubAck(ack) : .pubRec(ack))
            }
        case .pubRel(let ack):
            send(.pubComp(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier)))
        case .pubAck, .pubComp:
            inflight -= 1
            acknowledged += 1
            stats.recordAcknowledged(at: NIODeadline.now().uptimeNanoseconds)
            pump()
        case .pubRec(let ack):
            send(.pubRel(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier)))
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump() }
        context.fireChannelWritabilityChanged()
    }

    /// Starts publishing; called on the channel's loop once every connection of the run is ready.
    func startPublishing() {
        guard case .publisher(_, _, let plan) = role, let context else { return }
        startedAt = .now()
        if let duration = plan.duration {
            deadline = startedAt + duration
            context.eventLoop.scheduleTask(deadline: deadline) { [self] in
                stopped = true
                finishIfDone()
            }
        }
        if let rate = plan.rate, rate > 0 {
            // A millisecond tick sends what the rate makes due since the start, so a late tick catches up
            // rather than lowering the rate.
            let interval = TimeAmount.nanoseconds(max(1_000_000, min(100_000_000, Int64(1e9 / rate))))
            ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [weak self] _ in self?.pump() }
        } else {
            pump()
        }
    }

    /// Stops sending; the run is over.
    func stop() {
        stopped = true
        ticker?.cancel()
    }

    private func due(_ plan: PublishPlan) -> Int {
        var due = plan.count ?? .max
        if let rate = plan.rate, rate > 0 {
            let elapsed = Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
            due = min(due, Int(rate * elapsed) + 1)
        }
        return due
    }

    private func pump() {
        guard case .publisher(let topic, let index, let plan) = role, let context, !stopped else {
            finishIfDone()
            return
        }
        let due = due(plan)
        var wrote = false
        while sent < due && context.channel.isWritable && (qos == .atMostOnce || inflight < inflightWindow) {
            let now = NIODeadline.now()
            if now >= deadline {
                stopped = true
                break
            }
            var identifier: UInt16?
            if qos != .atMostOnce {
                nextPacketIdentifier = nextPacketIdentifier == .max ? 1 : nextPacketIdentifier + 1
                identifier = nextPacketIdentifier
                inflight += 1
            }
            scratch.clear()
            BenchPayload.write(.init(sequence: UInt64(sent), publisher: index, sentAt: now.uptimeNanoseconds), size: payloadSize, to: &scratch)
            sent += 1
            stats.recordSent(at: now.uptimeNanoseconds)
            send(.publish(PublishPacket(topic: topic, payload: scratch, qos: qos, packetIdentifier: identifier)))
            wrote = true
        }
        if wrote { context.flush() }
        if let count = plan.count, sent >= count { stopped = true }
        finishIfDone()
    }

    private func finishIfDone() {
        guard case .publisher = role, stopped, qos == .atMostOnce || acknowledged >= sent else { return }
        ticker?.cancel()
        markDone()
        finishedPublishing.succeed()
    }

    private func markDone() {
        guard case .publisher = role, !done else { return }
        done = true
        stats.recordPublisherDone()
    }

    private func send(_ packet: Packet) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: packet.encodedSize(version: version))
        try? packet.write(to: &buffer, version: version)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}

enum BenchError: Error, CustomStringConvertible {
    case refused(ReasonCode)
    case noConnection(attempts: Int, firstError: String)
    case handshakeTimedOut

    var description: String {
        switch self {
        case .refused(let code): "refused by the broker: \(code)"
        case .noConnection(let attempts, let firstError): "connections failed (of \(attempts)): \(firstError)"
        case .handshakeTimedOut: "no CONNACK or SUBACK within 10 seconds"
        }
    }
}
