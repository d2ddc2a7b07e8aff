import Atomics
import DequeModule
import Logging
import MQTT
import NIOCore
import NIOWebSocket
import StarlingWebSocket

/// One client connection: decodes its packets, runs the protocol for it and writes what the broker sends it.
///
/// Everything here runs on the channel's event loop. Output is gathered in one buffer and flushed once per
/// read burst (or per batch of deliveries from other loops) by `BrokerLoop.flush`.
///
/// This type is the connection's I/O: channel events, decoding, pausing and resuming reads, output and its
/// flush, closing, its deadlines (`+Idleness`) and handing an idle socket over (`+Hibernation`). What a packet
/// means is decided elsewhere: the protocol's rules are values it asks (`ConnectionStateMachine`,
/// `Connection/Rules`), and each packet's procedure is a type of its own in `Connection/Inbound`
/// (`ConnectAttempt`, `PublishReception`, `SubscriptionRequest`), which drives the connection through
/// `send`, `sendDurably`, `pause`, `resume` and `disconnect`. The per-connection state those procedures read
/// stays in this object: an idle connection keeps only this object and its session, and a second object per
/// connection would cost every idle connection its header and a pointer.
final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    // Sendable proof: the handler is reachable from other threads only through its session, whose owner checks
    // the session's home loop first (see `Session`), and through tasks scheduled onto `loop.eventLoop`; all of
    // its state is touched on that loop only.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // The fields marked `@exclusivity(unchecked)` are the ones every packet and every delivery touches. Each access
    // to them is a read, an assignment, or a mutation by a method of the value's own type that calls nothing
    // back (decoding from `inbound`, encoding into `output`), all on the channel's loop: no two can overlap, so
    // the run-time exclusivity checks, about a tenth of the publish path's instructions, are left out.
    let core: BrokerCore
    let loop: BrokerLoop
    /// The client identifier from CONNECT, for the log.
    var loggedClientIdentifier: String?
    @exclusivity(unchecked) var context: ChannelHandlerContext!
    @exclusivity(unchecked) var decoder: PacketDecoder
    @exclusivity(unchecked) var inbound: ByteBuffer?
    @exclusivity(unchecked) var output: ByteBuffer?
    @exclusivity(unchecked) var hibernation = Hibernation.awake
    // The one-byte fields, together so that they share words (and the tail of `hibernation`'s): an idle
    // connection keeps this object. Beside the output buffer, as the delivery path reads both.
    @exclusivity(unchecked) var flushPending = false
    /// The protocol's state of the connection: its rules decide what each packet and each failure leads to.
    @exclusivity(unchecked) var machine = ConnectionStateMachine()
    /// True while decoding waits for an asynchronous step to finish (see `pause`).
    @exclusivity(unchecked) var paused = false
    /// True while the channel holds `maximumOutboundBytes` unsent: reading stops until the client has read some,
    /// so that a client that sends without reading (PINGREQ or WebSocket ping floods) cannot make the broker
    /// hold more than that for it.
    var outputBlocked = false
    @exclusivity(unchecked) private var processing = false
    /// Set once the connect timeout runs and the connection is registered, whichever of `handlerAdded` and
    /// `channelActive` sees the channel active first.
    private var activated = false
    /// TLS listeners with `userNameFromCertificate`: CONNECT's user name is replaced by the certificate's.
    let userNameFromCertificate: Bool
    /// Whether the connection may hibernate when idle: its pipeline is this handler alone on a plain socket.
    let mayHibernate: Bool
    @exclusivity(unchecked) var activeSinceCheck = true
    /// Counted among its loop's `awakeConnections`.
    var countedAwake = false
    /// Whether the connection may hibernate sooner while its loop has many awake (see
    /// `Limits.hibernateQuicklyAbove`); no longer once it has woken soon after it was last active, because it
    /// would only wake again.
    var mayHibernateQuickly = true
    /// The wheel has not looked at the connection since it connected.
    var firstIdlenessCheck = true
    /// A close asked for while hibernating, done once the connection is awake and has sent what it has.
    var closeOnWake = false
    @exclusivity(unchecked) var session: Session?
    /// When a connection that has not sent CONNECT is closed.
    var connectDeadline = NIODeadline.distantFuture
    /// One and a half times the client's keep alive, once connected with one (MQTT-3.1.2-24).
    @exclusivity(unchecked) var keepAliveTimeout: TimeAmount?
    @exclusivity(unchecked) var lastReadAt = NIODeadline.uptimeNanoseconds(0)
    /// Where the loop's `DeadlineWheel` holds this connection (one of 256 slots); -1 when it does not. Two
    /// bytes, so that `listenerIndex` and `connectedAt` share its word.
    var deadlineSlot: Int16 = -1
    /// Which of the configured listeners accepted the connection; -1 for one the application handed over.
    let listenerIndex: Int8
    /// When the client's session was attached, in seconds since 1970, for the admin API.
    var connectedAt: UInt32 = 0
    var deadlinePosition = 0
    /// Its place in the loop's `connections`; -1 when not there.
    var registryPosition = -1
    /// 5.0: the topic aliases the client set. Passed `inout` for every PUBLISH, hence unchecked (see above).
    @exclusivity(unchecked) var topicAliases = IncomingTopicAliases()
    /// How deliveries and answers are shaped for this client (topic aliases, its Maximum Packet Size).
    @exclusivity(unchecked) var writer = PublishWriter()
    private let peer: PeerAddress?
    var remoteAddress: SocketAddress? { peer?.socketAddress }
    let connectionNumber: UInt64
    /// The authenticator at work for this connection, made only when a client needs it: a connection without one
    /// stays small.
    var authentication: ConnectionAuthentication?
    /// Acknowledgements waiting for the store to commit what they acknowledge, in order.
    var acknowledgements = AcknowledgementGate()
    /// Set while the client does not read what it is sent, or its PUBLISH packets wait for a congested session.
    var pressure: ConnectionPressure?
    var drainTimeout: Scheduled<Void>? {
        get { pressure?.drainTimeout }
        set {
            if pressure == nil && newValue == nil { return }
            let pressure = self.pressure ?? ConnectionPressure()
            pressure.drainTimeout = newValue
            self.pressure = pressure.isRelieved ? nil : pressure
        }
    }

    /// What the ACL, the publish limits and the hooks need, made only when one of them is configured.
    @exclusivity(unchecked) var guards: ConnectionGuards?

    /// TLS listeners: the certificate the client presented, verified. Held by reference: 8 bytes instead of 32
    /// in every connection, most of which have none.
    private let certificate: CertificateReference?
    var clientCertificate: ClientCertificate? { certificate?.value }
    /// When the wheel last found the connection active since it looked before: reads and flushes only set
    /// `activeSinceCheck`, so that they read no clock for it. A connection hibernates once it has stayed idle
    /// from one look to the next, `hibernateAfter` apart: after that long idle, and at most twice that long.
    var lastActiveAt = NIODeadline.uptimeNanoseconds(0)
    /// The open connections of the listener this one came through, when it has a limit of its own.
    let listenerConnections: ManagedAtomic<Int>?

    final class CertificateReference: Sendable {
        let value: ClientCertificate

        init(_ value: ClientCertificate) {
            self.value = value
        }
    }

    enum Hibernation: Equatable {
        case awake
        /// The socket is held by the broker's `HibernationWatcher` under this token; there is no channel.
        case asleep(token: UInt64)
        /// A new channel is adopting the socket.
        case waking
    }

    init(
        core: BrokerCore, loop: BrokerLoop, remoteAddress: SocketAddress?, clientCertificate: ClientCertificate? = nil,
        userNameFromCertificate: Bool = false, mayHibernate: Bool = false, listenerConnections: ManagedAtomic<Int>? = nil,
        listenerIndex: Int = -1
    ) {
        self.listenerIndex = Int8(clamping: listenerIndex)
        self.core = core
        self.loop = loop
        self.peer = PeerAddress(remoteAddress)
        self.certificate = clientCertificate.map(CertificateReference.init)
        self.userNameFromCertificate = userNameFromCertificate
        self.mayHibernate = mayHibernate && core.configuration.limits.hibernateAfter != nil
        self.listenerConnections = listenerConnections
        self.connectionNumber = core.connectionNumbers.wrappingIncrementThenLoad(ordering: .relaxed)
        self.decoder = PacketDecoder(options: DecodingOptions(maximumPacketSize: core.configuration.limits.maximumPacketSize))
        #if DEBUG
        core.liveObjects.track(self, as: .connectionHandler)
        #endif
    }

    var state: ConnectionStateMachine.State { machine.state }
    var version: ProtocolVersion { machine.version }

    /// The broker's logger with this connection's peer and client, made when a line is logged so that an idle
    /// connection keeps no log metadata of its own.
    var logger: Logger {
        var logger = core.logger
        logger[metadataKey: "peer"] = "\(remoteAddress.map { "\($0)" } ?? "unknown")"
        if let loggedClientIdentifier { logger[metadataKey: "client"] = "\(loggedClientIdentifier)" }
        return logger
    }

    /// A hibernating connection takes output: it is written straight to its socket (see `sendAsleep`).
    var isWritable: Bool { state == .connected && (!isAwake || context?.channel.isWritable == true) }

    var isAwake: Bool {
        if case .awake = hibernation { true } else { false }
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added after a handshake (TLS, WebSocket, PROXY header), the channel is active already.
        if context.channel.isActive { activate(context: context) }
    }

    /// The context holds the handler: the handler lets go of it, or the two would keep each other, and the channel
    /// with them, for good. A hibernating connection's handler leaves its pipeline, and joins a new one on waking.
    func handlerRemoved(context: ChannelHandlerContext) {
        if self.context === context { self.context = nil }
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context: context)
        context.fireChannelActive()
        if hibernation == .waking { awaken() }
    }

    private func activate(context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        connectDeadline = .now() + core.configuration.limits.connectTimeout
        loop.deadlineWheel.insert(self, deadline: connectDeadline)
        loop.connections.append(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After the broker closed the connection, what the client still sends is read only to be discarded.
        guard state != .closed else { return }
        var bytes = unwrapInboundIn(data)
        loop.counters.bytesReceived &+= UInt64(bytes.readableBytes)
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
        } else if let size = decoder.packetSize(atFrontOf: inbound!), size > inbound!.readableBytes,
            size - inbound!.readableBytes <= bytes.readableBytes
        {
            // This read completes the packet that straddles: only its missing bytes are copied, and what follows
            // it is decoded where it is, in this read's buffer.
            completeInbound(size: size, from: &bytes)
            processInbound()
            guard bytes.readableBytes > 0 else { return }
            if inbound == nil || inbound!.readableBytes == 0 {
                inbound = bytes
            } else {
                appendInbound(bytes)
            }
        } else {
            appendInbound(bytes)
        }
        processInbound()
    }

    /// Adds to the packet that straddles reads the `size` minus buffered bytes it lacks, taken from `bytes`: in
    /// place when the buffer is the connection's own, with room (see `appendInbound`), else in one of the
    /// packet's size.
    private func completeInbound(size: Int, from bytes: inout ByteBuffer) {
        let missing = bytes.readSlice(length: size - inbound!.readableBytes)!
        if inbound!.readerIndex == 0, inbound!.writableBytes >= missing.readableBytes {
            inbound!.writeImmutableBuffer(missing)
            return
        }
        var packet = context.channel.allocator.buffer(capacity: size)
        packet.writeImmutableBuffer(inbound!)
        packet.writeImmutableBuffer(missing)
        inbound = packet
    }

    /// Adds a read to the rest of a packet that straddles reads, copying each byte once. The bytes before the
    /// reader index belong to packets already decoded, whose payloads are slices of the same storage and may
    /// still be queued or written: appending to it would copy the whole storage, old packets included, and
    /// growing it step by step would copy it again. So the rest goes into a buffer of its own, sized for the
    /// whole packet once enough of it has come; at most four times what has come, so that a client announcing
    /// a large packet does not make the broker reserve memory for bytes it has not sent.
    private func appendInbound(_ bytes: ByteBuffer) {
        var incoming = bytes
        if inbound!.readerIndex == 0, inbound!.writableBytes >= incoming.readableBytes {
            inbound!.writeBuffer(&incoming)
            return
        }
        let received = inbound!.readableBytes + incoming.readableBytes
        let packetSize = decoder.packetSize(atFrontOf: inbound!) ?? 0
        let capacity = max(received, min(packetSize, 4 * received))
        var rest = context.channel.allocator.buffer(capacity: capacity)
        rest.writeBuffer(&inbound!)
        rest.writeBuffer(&incoming)
        inbound = rest
    }

    /// Decodes and handles the buffered bytes until they run out or an asynchronous step pauses the connection.
    private func processInbound() {
        // A step that finishes while packets are being handled resumes this loop rather than nesting another.
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while inbound != nil && !paused && state != .closed && state != .takenOver {
            let before = inbound!
            let packet: Packet?
            do {
                packet = try decoder.decode(buffer: &inbound!)
            } catch let error as MQTTError {
                protocolViolation(error, connectBytes: state == .awaitingConnect ? before : nil)
                return
            } catch {
                close()
                return
            }
            guard let packet else { break }
            handle(packet)
        }
        if paused { updateReading() }
        // An idle connection must not pin the read buffer: drop it once it is consumed. What is left of it is not
        // moved to the front: its storage is shared with the payloads decoded from it, so that would copy it
        // whole, and the next read copies the rest into a buffer of its own anyway (`appendInbound`).
        if inbound?.readableBytes == 0 { inbound = nil }
    }

    /// Holds the client's later packets until an asynchronous step (session take-over, a subscription reaching
    /// every loop) is done, so that the client's packets take effect, and are answered, in the order it sent them.
    func pause() {
        guard !paused else { return }
        paused = true
        // Within a read burst the decoding loop stops by itself, and a step answered within it (a session claimed
        // on this loop, as most are) resumes before the burst ends: the socket stops being read, at the cost of
        // two system calls, only when the pause outlasts the burst (see `processInbound`).
        if !processing { updateReading() }
    }

    func resume() {
        guard paused else { return }
        paused = false
        updateReading()
        processInbound()
        if !processing { loop.flush() }
    }

    /// Runs `step`, the answer to an asynchronous call the connection paused for, and reads on unless the step
    /// waits for something else. The step runs even when the connection has ended meanwhile: a PUBLISH it sent
    /// is still routed.
    func continueAfterPause(_ step: () -> Void) {
        guard state != .closed && state != .takenOver else {
            step()
            loop.flush()
            return
        }
        paused = false
        step()
        if !paused {
            paused = true
            resume()
        }
        loop.flush()
    }

    /// Reads from the socket unless decoding is paused, the client is not reading what it is sent, or it is
    /// held back by flow control.
    func updateReading() {
        let reading = !paused && !outputBlocked && pressure?.readingStopped != true
        context?.channel.setOption(ChannelOptions.autoRead, value: reading).whenFailure { _ in }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if keepAliveTimeout != nil { lastReadAt = .now() }
        activeSinceCheck = true
        loop.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            drainTimeout?.cancel()
            drainTimeout = nil
            if outputBlocked {
                outputBlocked = false
                updateReading()
            }
            session?.drainQueue()
            loop.flush()
        } else {
            // Everything written to the channel counts, MQTT packets and what the transport writes by itself
            // (WebSocket pongs and close frames): past the high water mark nothing more is read until the
            // client reads, and the drain timeout closes a connection whose client never does.
            if !outputBlocked, state != .closed {
                outputBlocked = true
                updateReading()
                loop.counters.outboundLimitReached &+= 1
                core.outboundLimitLog.logRarely(logger, "client not reading what it is sent: reading from it stops until it does", metadata: [
                    "maximum_outbound_bytes": "\(core.configuration.limits.maximumOutboundBytes)",
                ])
            }
            if drainTimeout == nil {
                drainTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: core.configuration.limits.drainTimeout) { [self] in
                    logger.warning("closing connection whose client stopped reading")
                    close()
                }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is WebSocketViolation || error is NIOWebSocketError {
            // The WebSocket layer has failed the connection with a close frame saying why.
            loop.counters.webSocketViolations &+= 1
            core.webSocketViolationLog.logRarely(logger, "closing WebSocket connection that broke the protocol", metadata: [
                "error": "\(error)",
            ])
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
        }
        close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        endConnection()
        context.fireChannelInactive()
    }

    /// The connection is over for the broker: timers stop, the session is let go of (its will published or
    /// scheduled), and what the connection routed is flushed.
    func endConnection() {
        guard state != .closed else { return }
        drainTimeout?.cancel()
        CongestionWait.cancel(self)
        pressure = nil
        loop.deadlineWheel.remove(self)
        authentication?.cancel()
        if registryPosition >= 0 {
            loop.connections.remove(self)
            registryPosition = -1
        }
        countAwake(false)
        guard let previous = machine.ended() else { return }
        if previous.countsAsConnection { core.connectionCount.wrappingDecrement(ordering: .relaxed) }
        output = nil
        if previous == .connected, let session {
            SessionAttachment.detach(session, from: self)
        } else if let session, session.connection === self {
            // Taken over by a connection that started the session afresh: the ended session must not keep this handler.
            session.connection = nil
        }
        // A session whose client is gone no longer holds its publishers up: its queue is bounded as offline.
        if let session, session.connection == nil { session.relieveCongestion(loop: loop) }
        // A close in the middle of a read burst skips channelReadComplete: flush what the burst routed.
        loop.flush()
    }

    // MARK: Closing

    /// Closes the connection, first telling a 5.0 client why (4.13).
    func disconnect(reason: ReasonCode, reasonString: String? = nil, properties extra: Properties = []) {
        switch machine.closing(reason: reason) {
        case .none:
            return
        case .close:
            close()
        case .disconnect(let reason, let lingering):
            var properties = extra
            if let reasonString { properties.append(.reasonString(reasonString)) }
            send(.disconnect(DisconnectPacket(reasonCode: reason, properties: properties)))
            // A client still writing (the packet refused here, say) would otherwise get a reset, not the reason.
            lingering ? closeLingering() : close()
        }
    }

    func close() {
        guard state != .closed else { return }
        switch hibernation {
        case .awake: break
        case .asleep:
            closeAsleep()
            return
        case .waking:
            closeOnWake = true
            return
        }
        guard let context else { return }
        flushOutput()
        context.close(promise: nil)
    }

    /// Closes a connection whose client may still be sending: the rest of a packet refused unread, say. A socket
    /// closed with unread input is reset, and the reset can destroy the DISCONNECT or CONNACK that says why before
    /// the client reads it. So only the sending side closes now; the connection is over for the broker at once,
    /// and the socket stays open for a moment, its input discarded, for the client to read the answer and close.
    private func closeLingering() {
        guard state != .closed else { return }
        // Hibernating, the connection has read everything the client sent: a plain close lets it read the rest.
        guard isAwake, let context else { return close() }
        flushOutput()
        let channel = context.channel
        endConnection()
        context.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        context.eventLoop.scheduleTask(in: Self.lingerTime) { channel.close(promise: nil) }
    }

    static let lingerTime = TimeAmount.seconds(2)

    /// Answers CONNECT with a refusal and closes (MQTT-3.2.2-6: Session Present 0 on refusals). A 3.1 or 3.1.1
    /// client refused for something its version has no return code for only sees the connection close.
    func refuse(_ reason: ReasonCode, reasonString: String? = nil, properties extra: Properties = []) {
        logger.info("connection refused", metadata: ["reason": "\(reason)"])
        loop.counters.refusedConnections[reason, default: 0] &+= 1
        guard let code = version == .v5 ? reason : reason.connectReturnCode?.reasonCode else {
            close()
            return
        }
        var properties: Properties = []
        if version == .v5 {
            properties = extra
            if let reasonString { properties.append(.reasonString(reasonString)) }
        }
        send(.connAck(ConnAckPacket(sessionPresent: false, reasonCode: code, properties: properties)))
        close()
    }

    func protocolViolation(_ error: MQTTError, connectBytes: ByteBuffer?) {
        logger.info("protocol violation", metadata: ["error": "\(error)", "client": "\(session?.clientIdentifier ?? "")"])
        let level = connectBytes.flatMap { PacketDecoder.protocolLevel(ofConnect: $0) }
        switch machine.protocolViolation(error, connectProtocolLevel: level) {
        case .connAck(let reason):
            send(.connAck(ConnAckPacket(reasonCode: reason)))
        case .refuse(let reason):
            return refuse(reason)
        case .disconnect(let reason):
            send(.disconnect(DisconnectPacket(reasonCode: reason)))
        case .close:
            break
        }
        closeLingering()
    }
}
