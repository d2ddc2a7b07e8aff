import MQTT
import NIOCore

/// The outbound QoS flows of a session (section 4.3): sending within the client's window, queueing the
/// rest, and acknowledgements. All of it runs on the session's loop.
extension Session {
    func deliver(_ delivery: Delivery, loop: BrokerLoop) {
        guard isAlive else { return }
        let now = delivery.message.expiryClock
        if delivery.message.isExpired(at: now) {
            drop(delivery, loop: loop, reason: .expired)
            loop.storeChanges?.recordRemoval(delivery, for: self)
            return
        }
        guard let connection else {
            if delivery.qos != .atMostOnce || loop.configuration.queueQoS0WhileOffline {
                enqueue(delivery, loop: loop)
            }
            return
        }
        if delivery.qos == .atMostOnce {
            // What the socket does not take now waits its turn in the queue, within the queue's limits: a
            // momentarily full socket is no reason to drop a message for a client that keeps reading. QoS 1 and
            // 2 messages that the client's window holds back hold no QoS 0 message back.
            if queue.atMostOnceCount == 0, connection.isWritable {
                connection.sendPublish(delivery, packetIdentifier: nil, duplicate: false, now: now)
            } else {
                enqueue(delivery, loop: loop)
            }
            return
        }
        if queue.isEmpty, inflight.count < sendWindow, connection.isWritable, send(delivery, over: connection, now: now) {
            return
        } else {
            enqueue(delivery, loop: loop)
        }
    }

    /// False when a stored delivery's packet identifier is still in flight: it then waits in the queue.
    private func send(_ delivery: Delivery, over connection: ConnectionHandler, now: NIODeadline) -> Bool {
        let identifier: UInt16
        if delivery.sequence != 0 {
            identifier = Self.packetIdentifier(forSequence: delivery.sequence)
            guard inflight[identifier] == nil else { return false }
        } else {
            guard let next = nextPacketIdentifier() else { return true }
            identifier = next
        }
        inflight[identifier] = Outbound(delivery: delivery)
        connection.sendPublish(delivery, packetIdentifier: identifier, duplicate: false, now: now)
        return true
    }

    private func enqueue(_ delivery: Delivery, loop: BrokerLoop) {
        let limits = loop.configuration.limits
        let flowControl = connection == nil ? nil : limits.flowControl
        guard queue.count < flowControl?.maximumQueued ?? limits.maximumQueuedMessages else {
            drop(delivery, loop: loop, reason: .queueFull)
            loop.storeChanges?.recordRemoval(delivery, for: self)
            return
        }
        // One message larger than the byte limit still queues alone, so that no message is undeliverable for its size.
        guard queue.isEmpty || queue.bytes + delivery.message.payload.readableBytes <= Self.maximumQueuedBytes(limits) else {
            drop(delivery, loop: loop, reason: .queueBytesFull)
            loop.storeChanges?.recordRemoval(delivery, for: self)
            return
        }
        queue.append(delivery)
        if let flowControl, !isCongested.load(ordering: .relaxed),
            queue.count >= flowControl.highWater || queue.bytes >= Self.congestedBytes(limits)
        {
            congest(loop: loop)
        }
    }

    /// Queued payload bytes at which publishers are slowed: half the limit, so that what they send before they
    /// stop fits below it.
    static func congestedBytes(_ limits: BrokerConfiguration.Limits) -> Int { maximumQueuedBytes(limits) / 2 }

    /// Queued payload bytes at which they go on.
    static func relievedBytes(_ limits: BrokerConfiguration.Limits) -> Int { maximumQueuedBytes(limits) / 4 }

    /// `Limits.maximumQueuedBytes`, at most 2 GiB, which `MessageQueue` counts in 32 bits.
    static func maximumQueuedBytes(_ limits: BrokerConfiguration.Limits) -> Int { min(limits.maximumQueuedBytes, 1 << 31) }

    // MARK: Flow control

    /// The queue reached the high water mark: publishers routing here wait from now on (see `FlowControl`).
    private func congest(loop: BrokerLoop) {
        isCongested.store(true, ordering: .relaxed)
        loop.counters.flowControl.congestions &+= 1
        acknowledgedWhileCongested = false
        scheduleCongestionCheck(loop: loop)
        // Its client must not wait for another session while others may wait for this one.
        if let connection { CongestionWait.endAsCongested(connection) }
    }

    private func scheduleCongestionCheck(loop: BrokerLoop) {
        congestionCheck = loop.eventLoop.assumeIsolated().scheduleTask(in: loop.configuration.limits.drainTimeout) { [self] in
            congestionCheck = nil
            guard isCongested.load(ordering: .relaxed), let connection else { return }
            guard acknowledgedWhileCongested else {
                // A client that reads but never acknowledges (nor takes a QoS 0 message off the queue) would hold
                // its publishers up for ever.
                loop.counters.flowControl.stalledSubscribersClosed &+= 1
                connection.logger.warning("closing connection whose client stopped acknowledging what it is sent", metadata: [
                    "queued": "\(queue.count)", "drain_timeout": "\(loop.configuration.limits.drainTimeout)",
                ])
                connection.close()
                return
            }
            acknowledgedWhileCongested = false
            scheduleCongestionCheck(loop: loop)
        }
    }

    /// Ends the congestion, if any, and lets the publishers that waited go on: the queue is down to the low
    /// water mark, or the client is gone (an offline session's queue is bounded by `maximumQueuedMessages`).
    func relieveCongestion(loop: BrokerLoop) {
        guard isCongested.load(ordering: .relaxed), let core = loop.core else { return }
        congestionCheck?.cancel()
        congestionCheck = nil
        CongestionWaiters.wake(core.congestionWaiters.relieve(self), from: self)
    }

    /// Counts a message not delivered to this session, and says why in the log: at most one line per session every
    /// ten seconds, so a stalled client cannot flood the log.
    func drop(_ delivery: Delivery, loop: BrokerLoop, reason: DropReason) {
        droppedMessages += 1
        loop.counters.drops.count(reason)
        let now = NIODeadline.now()
        guard now >= nextDropLog else { return }
        nextDropLog = now + .seconds(10)
        // Expiry is what the publisher asked for; the other reasons are the broker protecting itself.
        loop.logger.log(
            level: reason == .expired ? .info : .warning,
            "dropping messages for client",
            metadata: ["client": "\(clientIdentifier)", "reason": "\(reason.description)", "dropped-so-far": "\(droppedMessages)"])
    }

    /// Sends queued messages while the window and the socket allow.
    func drainQueue() {
        guard let connection else { return }
        let now = NIODeadline.now()
        while let next = queue.first, connection.isWritable {
            if next.qos != .atMostOnce && inflight.count >= sendWindow { break }
            if next.sequence != 0 && inflight[Self.packetIdentifier(forSequence: next.sequence)] != nil { break }
            _ = queue.removeFirst()
            if next.message.isExpired(at: now) {
                drop(next, loop: connection.loop, reason: .expired)
                connection.loop.storeChanges?.recordRemoval(next, for: self)
                continue
            }
            if next.qos == .atMostOnce {
                connection.sendPublish(next, packetIdentifier: nil, duplicate: false, now: now)
                // A QoS 0 message taken by the socket is all the progress it can show: the client reads.
                if isCongested.load(ordering: .relaxed) { acknowledgedWhileCongested = true }
            } else {
                _ = send(next, over: connection, now: now)
            }
        }
        if queue.atMostOnceCount > 0 {
            queue.takeAtMostOnce(while: { connection.isWritable }) { next in
                if next.message.isExpired(at: now) {
                    drop(next, loop: connection.loop, reason: .expired)
                } else {
                    connection.sendPublish(next, packetIdentifier: nil, duplicate: false, now: now)
                    if isCongested.load(ordering: .relaxed) { acknowledgedWhileCongested = true }
                }
            }
        }
        if isCongested.load(ordering: .relaxed), queue.count <= connection.loop.configuration.limits.flowControl?.lowWater ?? 0,
            queue.bytes <= Self.relievedBytes(connection.loop.configuration.limits)
        {
            relieveCongestion(loop: connection.loop)
        }
    }

    /// Resends, in order, what was in flight when the previous connection ended (MQTT-4.4.0-1), then the queue.
    func resume() {
        guard let connection else { return }
        let now = NIODeadline.now()
        for (identifier, outbound) in inflight {
            if outbound.released {
                connection.send(.pubRel(AcknowledgementPacket(packetIdentifier: identifier)))
            } else {
                connection.sendPublish(outbound.delivery, packetIdentifier: identifier, duplicate: true, now: now)
            }
        }
        drainQueue()
    }

    func acknowledge(_ identifier: UInt16) {
        guard let outbound = inflight[identifier], outbound.delivery.qos == .atLeastOnce else { return }
        inflight.removeValue(forKey: identifier)
        if isCongested.load(ordering: .relaxed) { acknowledgedWhileCongested = true }
        connection?.loop.storeChanges?.recordRemoval(outbound.delivery, for: self)
        drainQueue()
    }

    func received(_ identifier: UInt16, reasonCode: ReasonCode) {
        guard let outbound = inflight[identifier], outbound.delivery.qos == .exactlyOnce else {
            connection?.send(.pubRel(AcknowledgementPacket(packetIdentifier: identifier, reasonCode: .packetIdentifierNotFound)))
            return
        }
        if reasonCode.isFailure {
            // A PUBREC with a failure ends the flow (4.3.3).
            inflight.removeValue(forKey: identifier)
            connection?.loop.storeChanges?.recordRemoval(outbound.delivery, for: self)
            drainQueue()
            return
        }
        guard outbound.delivery.sequence != 0, let connection, let storeChanges = connection.loop.storeChanges else {
            if !outbound.released { inflight[identifier]!.released = true }
            connection?.send(.pubRel(AcknowledgementPacket(packetIdentifier: identifier)))
            return
        }
        if !outbound.released {
            inflight[identifier]!.released = true
            storeChanges.append(.deliveryReleased(clientIdentifier: clientIdentifier, sequence: outbound.delivery.sequence))
        }
        // Once the client has PUBREL, a restart must not send it the PUBLISH again: PUBREL waits for the commit.
        connection.sendDurably(.pubRel(AcknowledgementPacket(packetIdentifier: identifier)))
    }

    func completed(_ identifier: UInt16) {
        guard let outbound = inflight[identifier], outbound.released else { return }
        inflight.removeValue(forKey: identifier)
        if isCongested.load(ordering: .relaxed) { acknowledgedWhileCongested = true }
        connection?.loop.storeChanges?.recordRemoval(outbound.delivery, for: self)
        drainQueue()
    }
}
