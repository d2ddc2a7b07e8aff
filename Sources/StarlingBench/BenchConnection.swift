import MQTT
import NIOCore

/// One load-generating MQTT connection. A publisher sends until its count or deadline, as fast as the socket
/// (QoS 0) or the inflight window (QoS 1/2) allows or at a fixed rate, and never writes while the socket is
/// not writable; a subscriber counts what arrives; an idle connection only holds its session.
final class BenchConnection: ChannelInboundHandler, @unchecked Sendable {
    // Sendable proof: all state is touched on the channel's event loop only; other threads reach the handler
    // solely through tasks executed on that loop and futures completed on it.
    typealias InboundIn = ByteBuffer
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

    /// The largest burst a publisher encodes and writes at once, in bytes: the size of the channel's default
    /// high water mark, so one burst fills the socket's share and the next waits for writability.
    static let burstBytes = 64 * 1024

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
    private var reader: BenchPacketReader
    private var burst: BenchPublishBurst?
    private var acknowledged = 0
    private var inflight = 0
    private var nextPacketIdentifier: UInt16 = 0
    private var startedAt: NIODeadline = .distantPast
    private var deadline: NIODeadline = .distantFuture
    private var stopped = false
    private var done = false
    private var publishing = false
    /// Acknowledgements of this read burst (PUBACK, PUBREC, PUBREL, PUBCOMP), written once it ends.
    private var replies: ByteBuffer?
    /// Whether acknowledgements of this read burst freed room in the inflight window.
    private var windowOpened = false
    private var ticker: RepeatedTask?
    private var pinger: RepeatedTask?

    private let userName: String?
    private let password: String?

    init(
        role: Role, qos: QoS, version: ProtocolVersion, payloadSize: Int, inflightWindow: Int, keepAlive: UInt16, clientIdentifier: String,
        userName: String? = nil, password: String? = nil, stats: BenchLoopStats
    ) {
        self.userName = userName
        self.password = password
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
        self.reader = BenchPacketReader(version5: version == .v5)
        if case .publisher(let topic, let index, _) = role {
            burst = BenchPublishBurst(topic: topic, qos: qos.rawValue, publisher: index, payloadSize: payloadSize, version5: version == .v5)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        send(.connect(ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: true, keepAlive: keepAlive, userName: userName,
            password: password.map { ByteBuffer(string: $0) })))
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
        // One clock reading for every message of the read: they arrived together.
        let now = NIODeadline.now().uptimeNanoseconds
        do {
            try reader.read(unwrapInboundIn(data)) { handle($0, at: now) }
        } catch {
            errorCaught(context: context, error: error)
        }
    }

    private func handle(_ packet: BenchInboundPacket, at now: UInt64) {
        switch packet {
        case .connAck(let code):
            let reason = version == .v5 ? ReasonCode(rawValue: code) : Self.reasonCode(ofReturnCode: code)
            guard !reason.isFailure else {
                connected.fail(BenchError.refused(reason))
                return
            }
            if case .subscriber(let filter) = role {
                send(.subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: filter, qos: qos)])))
            } else {
                connected.succeed()
            }
        case .subAck(let refused):
            if let refused {
                connected.fail(BenchError.refused(ReasonCode(rawValue: refused)))
            } else {
                connected.succeed()
            }
        case .publish(let qos, let identifier, let header):
            if let header {
                stats.recordDelivery(tracker.record(sequence: header.sequence, publisher: header.publisher), sentAt: header.sentAt, at: now)
            } else {
                tracker.recordForeign()
            }
            if qos == 1 {
                reply(0x40, identifier)
            } else if qos == 2 {
                reply(0x50, identifier)
            }
        case .pubRel(let identifier):
            reply(0x70, identifier)
        case .pubAck, .pubComp:
            inflight -= 1
            acknowledged += 1
            stats.recordAcknowledged(at: now)
            windowOpened = true
        case .pubRec(let identifier):
            reply(0x62, identifier)
        case .other:
            break
        }
    }

    /// A v3.1.1 CONNACK return code as the v5 reason code of the same meaning.
    static func reasonCode(ofReturnCode code: UInt8) -> ReasonCode {
        switch code {
        case 0: ReasonCode(rawValue: 0)
        case 1: ReasonCode(rawValue: 0x84)
        case 2: ReasonCode(rawValue: 0x85)
        case 3: ReasonCode(rawValue: 0x88)
        case 4: ReasonCode(rawValue: 0x86)
        case 5: ReasonCode(rawValue: 0x87)
        default: ReasonCode(rawValue: 0x80)
        }
    }

    /// Queues a two-byte acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) for the end of the read burst.
    private func reply(_ firstByte: UInt8, _ identifier: UInt16) {
        if replies == nil, let context { replies = context.channel.allocator.buffer(capacity: 1024) }
        replies?.writeInteger(firstByte)
        replies?.writeInteger(UInt8(2))
        replies?.writeInteger(identifier)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let buffer = replies {
            replies = nil
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
        if windowOpened {
            // Acknowledgements make room in the window once per read burst, not once per PUBACK, so the
            // next messages go out as one burst.
            windowOpened = false
            pump()
        }
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
        publishing = true
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

    private func due(_ plan: PublishPlan, now: NIODeadline) -> Int {
        var due = plan.count ?? .max
        if let rate = plan.rate, rate > 0 {
            let elapsed = Double((now - startedAt).nanoseconds) / 1e9
            due = min(due, Int(rate * elapsed) + 1)
        }
        return due
    }

    /// Sends what is due, in bursts of pre-encoded packets, while the socket is writable and the window open.
    private func pump() {
        guard case .publisher(_, _, let plan) = role, publishing, let context, let burst, !stopped else {
            finishIfDone()
            return
        }
        let perBurst = max(1, Self.burstBytes / burst.packetSize)
        while context.channel.isWritable {
            let now = NIODeadline.now()
            if now >= deadline {
                stopped = true
                break
            }
            var count = min(due(plan, now: now) - sent, perBurst)
            if qos != .atMostOnce { count = min(count, inflightWindow - inflight) }
            guard count > 0 else { break }
            var buffer = context.channel.allocator.buffer(capacity: count * burst.packetSize)
            burst.write(count: count, firstSequence: UInt64(sent), sentAt: now.uptimeNanoseconds, lastIdentifier: &nextPacketIdentifier, to: &buffer)
            sent += count
            if qos != .atMostOnce { inflight += count }
            stats.recordSent(count, at: now.uptimeNanoseconds)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
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

    /// Sends a packet of the connection's set-up or upkeep (CONNECT, SUBSCRIBE, PINGREQ), encoded by the
    /// MQTT library; the message traffic is encoded by hand above.
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
