import Atomics
import MQTT
import NIOCore
import NIOPosix

/// Idle connections hibernate: their SwiftNIO channel (about 2 KB with its pipeline and write queue) is let go
/// of and the socket is handed to the broker's `HibernationWatcher`, leaving the handler and the session.
/// Pings are answered by the watcher, acknowledgements read by it for the handler, and output is written straight
/// to the idle socket; other input, or output the socket cannot take at once, wakes the connection: a new channel
/// adopts the same socket on the same loop, and the handler carries on as before. The client sees nothing of it.
extension ConnectionHandler: RemovableChannelHandler {
    /// Lets go of the channel if nothing is under way; returns whether the connection now hibernates.
    func hibernate() -> Bool {
        guard state == .connected, isAwake, let context, isQuiet(context.channel),
            let descriptor = SocketDescriptor.of(context.channel)
        else { return false }
        guard let watcher = core.hibernationWatcher() else { return false }
        // The channel closes its descriptor; the socket lives on in this copy.
        guard let copy = SocketDescriptor.duplicate(descriptor) else { return false }
        guard let token = watcher.sleep(copy, connection: self) else {
            SocketDescriptor.close(copy)
            return false
        }
        let channel = context.channel
        hibernation = .asleep(token: token)
        loop.counters.hibernatingConnections += 1
        countAwake(false)
        // Closing the channel gives its listener's count back; the connection is still open.
        listenerConnections?.wrappingIncrement(ordering: .relaxed)
        channel.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        self.context = nil
        channel.close(promise: nil)
        return true
    }

    /// Nothing half-read, unsent, unacknowledged or awaited: the connection can be left for a while.
    private func isQuiet(_ channel: any Channel) -> Bool {
        guard inbound == nil, output == nil, !flushPending, !paused, pressure == nil, acknowledgements.isEmpty,
            authentication?.isBusy != true, channel.isWritable,
            let session, session.inflight.isEmpty, session.queue.isEmpty
        else { return false }
        let buffered = try? channel.syncOptions?.getOption(.bufferedWritableBytes)
        return buffered == 0
    }

    /// The watcher saw input or a hang-up on the socket held under `token`.
    func socketStirred(token: UInt64) {
        guard hibernation == .asleep(token: token) else { return }
        wake()
    }

    /// PUBACK, PUBREC, PUBCOMP and DISCONNECT packets the watcher read from the sleeping socket (`token`), handled as if a
    /// channel had read them; the connection stays asleep. Handled even if it has woken since: the bytes are gone
    /// from the socket.
    func receivedWhileAsleep(_ acknowledgements: ByteBuffer, token: UInt64) {
        guard state == .connected else { return }
        loop.counters.bytesReceived &+= UInt64(acknowledgements.readableBytes)
        if keepAliveTimeout != nil { lastReadAt = .now() }
        var bytes = acknowledgements
        do {
            while let packet = try decoder.decode(buffer: &bytes) {
                handleConnected(packet)
                guard state == .connected else { break }
            }
        } catch let error as MQTTError {
            protocolViolation(error, connectBytes: nil)
        } catch {
            close()
        }
        loop.flush()
    }

    /// When the client last sent anything, counting the pings the watcher answered while it hibernated.
    func lastHeardFrom() -> NIODeadline {
        if case .asleep(let token) = hibernation, let pinged = core.runningHibernationWatcher?.lastPing(token), pinged > lastReadAt {
            lastReadAt = pinged
        }
        return lastReadAt
    }

    /// The client hung up, or the watcher could not answer pings it had read (`failure`): the connection is
    /// lost, as if its socket had failed, without waking.
    func lostWhileAsleep(token: UInt64, failure: String?) {
        guard hibernation == .asleep(token: token) else { return }
        if let failure { logger.info("hibernating connection lost: \(failure)") }
        closeAsleep()
    }

    /// Has a new channel adopt the socket; `awaken` carries on once it is active.
    func wake() {
        guard case .asleep(let token) = hibernation else { return }
        hibernation = .waking
        loop.counters.hibernatingConnections -= 1
        loop.counters.wakes &+= 1
        countAwake(true)
        // Awake again soon after it was last active, the connection would gain nothing from hibernating quickly.
        if let after = core.configuration.limits.hibernateAfter {
            mayHibernateQuickly = NIODeadline.now() - lastActiveAt >= after
        }
        guard let descriptor = core.runningHibernationWatcher?.wake(token) else {
            logger.error("hibernating connection lost its socket")
            hibernation = .awake
            endConnection()
            return
        }
        let limits = core.configuration.limits
        let listenerConnections = self.listenerConnections
        ClientBootstrap(group: loop.eventLoop)
            .channelOption(.recvAllocator, value: CompactRecvByteBufferAllocator.broker)
            .channelOption(.writeBufferWaterMark, value: .init(low: limits.maximumOutboundBytes / 2, high: limits.maximumOutboundBytes))
            .channelInitializer { [self] channel in
                #if DEBUG
                core.liveObjects.track(channel, as: .channel)
                #endif
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(self) }
            }
            .withConnectedSocket(descriptor)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    if let listenerConnections {
                        channel.closeFuture.whenComplete { _ in listenerConnections.wrappingDecrement(ordering: .relaxed) }
                    }
                case .failure(let error):
                    listenerConnections?.wrappingDecrement(ordering: .relaxed)
                    logger.warning("could not wake hibernating connection", metadata: ["error": "\(error)"])
                    hibernation = .awake
                    endConnection()
                }
            }
    }

    /// Output for a hibernating connection goes straight to its idle socket, which has room for a message or
    /// a few; the connection wakes, to send the rest through a channel, only when it does not take it all.
    func sendAsleep() {
        if case .asleep(let token) = hibernation, var buffer = output, let watcher = core.runningHibernationWatcher {
            let sent = watcher.send(buffer, token: token)
            loop.counters.bytesSent &+= UInt64(sent)
            buffer.moveReaderIndex(forwardBy: sent)
            if buffer.readableBytes == 0 {
                output = nil
                loop.outputBuffers.give(buffer)
                return
            }
            output = buffer
        }
        wake()
    }

    /// Closes a hibernating connection without waking it: what it has to say (a DISCONNECT, mostly) is written
    /// straight to the socket, which is idle and so has room for it.
    func closeAsleep() {
        guard case .asleep(let token) = hibernation else { return }
        hibernation = .awake
        loop.counters.hibernatingConnections -= 1
        if let watcher = core.runningHibernationWatcher {
            if let buffer = output {
                let sent = watcher.send(buffer, token: token)
                loop.counters.bytesSent &+= UInt64(sent)
                if sent != buffer.readableBytes { logger.debug("closing hibernating connection: its last packets did not fit") }
            }
            if let descriptor = watcher.wake(token) { SocketDescriptor.close(descriptor) }
        }
        output = nil
        listenerConnections?.wrappingDecrement(ordering: .relaxed)
        endConnection()
    }

    /// The new channel is active: send what waited, then go on as if nothing had happened.
    func awaken() {
        hibernation = .awake
        // Waking is activity: the connection stays awake for a whole `hibernateAfter` at least.
        lastActiveAt = .now()
        watchNextDeadline(notBefore: lastActiveAt)
        if closeOnWake {
            closeOnWake = false
            close()
            return
        }
        if output != nil { flushOutput() }
        if state == .connected { session?.drainQueue() }
        loop.flush()
    }
}
