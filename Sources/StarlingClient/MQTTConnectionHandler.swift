import NIOCore
import NIOSSL
import StarlingWebSocket

/// Drives one connection: sends CONNECT, waits for CONNACK, keeps the connection alive with PINGREQ, and hands
/// every other packet to the client's core, which owns the session.
///
/// It runs on the core's event loop, so it calls the core directly.
final class MQTTConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Packet
    typealias OutboundIn = Packet
    typealias OutboundOut = Packet

    private enum State {
        case waitingForActive
        case waitingForConnAck
        case connected
        case closed
    }

    private let core: ClientCore
    let connectionID: UInt64
    private let connect: ConnectPacket
    private let configuredPingTimeout: TimeAmount?
    private var pingTimeout = TimeAmount.seconds(60)
    private var state = State.waitingForActive
    private var context: ChannelHandlerContext?
    private var pingDeadline: Scheduled<Void>?
    /// True while the client reads nothing because a consumer lags behind: a PINGRESP cannot be read then, so
    /// its absence proves nothing.
    var readsPaused = false
    /// Why the connection ended, when this side knows before the channel closes.
    private var closeError: MQTTClientError?

    /// Sent through the pipeline once a transport that needs its own handshake after TCP (WebSocket) is ready.
    struct TransportReady {}

    /// Whether CONNECT goes out as soon as the channel is active, or waits for `TransportReady`.
    private let connectsWhenActive: Bool

    /// The 5.0 enhanced authentication under way, if CONNECT named a method.
    private let authentication: (any MQTTClientAuthenticationExchange)?

    init(
        core: ClientCore, connectionID: UInt64, connect: ConnectPacket, authentication: (any MQTTClientAuthenticationExchange)? = nil,
        pingTimeout: TimeAmount?, connectsWhenActive: Bool
    ) {
        self.core = core
        self.authentication = authentication
        self.connectsWhenActive = connectsWhenActive
        self.connectionID = connectionID
        self.connect = connect
        self.configuredPingTimeout = pingTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if connectsWhenActive { sendConnect(context: context) }
        context.fireChannelActive()
    }

    private func sendConnect(context: ChannelHandlerContext) {
        guard case .waitingForActive = state else { return }
        state = .waitingForConnAck
        context.writeAndFlush(wrapOutboundOut(.connect(connect)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        switch state {
        case .waitingForConnAck:
            if case .auth(let auth) = packet, let authentication {
                return continueAuthentication(auth, authentication, context: context)
            }
            guard case .connAck(let connAck) = packet else {
                close(with: .protocolError("expected CONNACK, received \(packet.type)"), reasonCode: .protocolError)
                return
            }
            guard connAck.reasonCode == .success else {
                close(with: .refused(connAck, version: connect.protocolVersion), reasonCode: nil)
                return
            }
            if let authentication {
                do {
                    try authentication.complete(with: connAck.properties.authenticationData)
                } catch {
                    // Before the connection counts as made: a broker that cannot prove itself gets nothing.
                    state = .connected
                    close(with: MQTTClientError(.connectFailed, "authentication failed", underlying: error), reasonCode: .notAuthorized)
                    return
                }
            }
            state = .connected
            startKeepAlive(context: context, serverKeepAlive: connAck.properties.serverKeepAlive)
            core.connectionAccepted(connAck, connectionID: connectionID, channel: context.channel, handler: self)
        case .connected:
            switch packet {
            case .pingResp:
                pingDeadline?.cancel()
                pingDeadline = nil
            case .disconnect(let disconnect):
                closeError = .disconnected(disconnect)
                context.close(promise: nil)
            case .connAck, .connect, .subscribe, .unsubscribe, .pingReq, .auth:
                close(with: .protocolError("unexpected \(packet.type) from the broker"), reasonCode: .protocolError)
            default:
                core.received(packet, connectionID: connectionID)
            }
        case .waitingForActive, .closed:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TransportReady { return sendConnect(context: context) }
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .write, case .connected = state else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // One PINGREQ at a time: while one waits for its PINGRESP, another would prove nothing more.
        guard pingDeadline == nil else { return }
        context.writeAndFlush(wrapOutboundOut(.pingReq), promise: nil)
        let pingTimeout = self.pingTimeout
        pingDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: pingTimeout) { [weak self] in
            guard let self else { return }
            guard !readsPaused else {
                pingDeadline = nil
                return
            }
            // The broker is silent: a DISCONNECT would most likely not arrive, so the connection is simply closed.
            close(with: MQTTClientError(.keepAliveTimeout, "no PINGRESP from the broker within \(pingTimeout)"), reasonCode: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let clientError: MQTTClientError
        let reasonCode: ReasonCode?
        switch error {
        case let error as MQTTClientError:
            clientError = error
            reasonCode = .protocolError
        case let error as WebSocketViolation:
            // The WebSocket stream has failed the connection and sent its close frame: nothing more goes out.
            clientError = .protocolError("the broker's WebSocket stream: \(error.reason)")
            reasonCode = nil
        case let error as MQTTError:
            if case .packetTooLarge(let size, let maximum) = error.kind {
                clientError = MQTTClientError(.packetTooLarge, "the broker sent a packet of \(size) bytes, above the maximum of \(maximum)")
            } else if case .waitingForConnAck = state {
                clientError = Self.notMQTT(error)
            } else {
                clientError = MQTTClientError(.protocolError, "malformed packet from the broker", underlying: error)
            }
            reasonCode = error.reasonCode
        default:
            if case .connected = state {
                clientError = MQTTClientError(.connectionLost, "connection lost", underlying: error)
            } else {
                clientError = MQTTClientError(.connectFailed, "could not connect to the broker", underlying: error)
            }
            reasonCode = nil
        }
        close(with: clientError, reasonCode: reasonCode)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasConnected: Bool
        if case .connected = state { wasConnected = true } else { wasConnected = false }
        state = .closed
        pingDeadline?.cancel()
        pingDeadline = nil
        let error = closeError ?? (wasConnected
            ? .lost
            : MQTTClientError(.connectFailed, "the broker closed the connection before answering CONNECT"))
        core.connectionClosed(connectionID: connectionID, error: error)
        context.fireChannelInactive()
    }

    /// Answers the broker's AUTH (Continue authentication) with the exchange's next Authentication Data.
    private func continueAuthentication(
        _ auth: AuthPacket, _ authentication: any MQTTClientAuthenticationExchange, context: ChannelHandlerContext
    ) {
        guard auth.reasonCode == .continueAuthentication, auth.properties.authenticationMethod == connect.properties.authenticationMethod else {
            close(with: .protocolError("unexpected AUTH (\(auth.reasonCode)) from the broker"), reasonCode: .protocolError)
            return
        }
        do {
            var properties = Properties()
            if let method = connect.properties.authenticationMethod { properties.append(.authenticationMethod(method)) }
            if let data = try authentication.respond(to: auth.properties.authenticationData) { properties.append(.authenticationData(data)) }
            context.writeAndFlush(wrapOutboundOut(.auth(AuthPacket(reasonCode: .continueAuthentication, properties: properties))), promise: nil)
        } catch {
            close(with: MQTTClientError(.connectFailed, "authentication failed", underlying: error), reasonCode: nil)
        }
    }

    /// The error for an answer to CONNECT that is not MQTT at all: most often a TLS server (its alert or
    /// handshake record starts 0x15 or 0x16, which reads as a CONNECT with bad flags) reached without TLS.
    static func notMQTT(_ error: MQTTError) -> MQTTClientError {
        if case .invalidFixedHeaderFlags(let type, let flags) = error.kind, type == 1, flags == 5 || flags == 6 {
            return MQTTClientError(.connectFailed, MQTTClientError.tlsExpected)
        }
        return MQTTClientError(.connectFailed, "the server's answer to CONNECT is not MQTT (is this an MQTT port?)", underlying: error)
    }

    /// Ends the connection because of `error`, first telling a 5.0 broker why when `reasonCode` is given.
    func close(with error: MQTTClientError, reasonCode: ReasonCode?) {
        if closeError == nil { closeError = error }
        guard let context, context.channel.isActive else { return }
        if let reasonCode, connect.protocolVersion == .v5, case .connected = state {
            var properties = Properties()
            properties.append(.reasonString(error.message))
            context.writeAndFlush(wrapOutboundOut(.disconnect(DisconnectPacket(reasonCode: reasonCode, properties: properties))), promise: nil)
        }
        context.close(promise: nil)
    }

    private func startKeepAlive(context: ChannelHandlerContext, serverKeepAlive: UInt16?) {
        // MQTT-3.2.2-22: a Server Keep Alive replaces the value the client asked for.
        let seconds = serverKeepAlive ?? connect.keepAlive
        guard seconds > 0 else { return }
        let interval = TimeAmount.seconds(Int64(seconds))
        pingTimeout = configuredPingTimeout ?? interval
        try? context.pipeline.syncOperations.addHandler(IdleStateHandler(writeTimeout: interval), position: .before(self))
    }
}
