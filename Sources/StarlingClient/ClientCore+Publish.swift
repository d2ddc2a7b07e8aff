import NIOCore

extension ClientCore {
    /// Queues a publish and sends it as soon as the connection and the broker's Receive Maximum allow.
    func publish(_ packet: PublishPacket, storeKey: UInt64? = nil, promise: EventLoopPromise<PublishResult>) {
        if case .shutDown(let error) = state { return promise.fail(error ?? .shutdown) }
        do {
            try TopicName.validate(packet.topic)
        } catch {
            return promise.fail(MQTTClientError(.invalidTopic, "'\(packet.topic)' is not a valid topic name"))
        }
        guard queuedPublishes.count < configuration.maximumQueuedPublishes else {
            return promise.fail(MQTTClientError(
                .queueFull, "\(queuedPublishes.count) publishes are already waiting to be sent (the limit)"))
        }
        var packet = packet
        packet.packetIdentifier = nil
        packet.duplicate = false
        // Aliases are per connection and chosen when the packet is written.
        packet.properties.remove(.topicAlias)
        queuedPublishes.append(QueuedPublish(packet: packet, promise: promise, storeKey: storeKey))
        sendQueuedPublishes()
    }

    func sendQueuedPublishes() {
        guard case .connected(let connection) = state else { return }
        var wrote = false
        while let next = queuedPublishes.first {
            if next.packet.qos != .atMostOnce && session.outgoingCount >= connection.receiveMaximum { break }
            if next.packet.qos > connection.maximumQoS {
                queuedPublishes.removeFirst().promise.fail(MQTTClientError(
                    .notSupportedByBroker, "the broker accepts QoS \(connection.maximumQoS.rawValue) at most, not \(next.packet.qos.rawValue)"))
                continue
            }
            if next.packet.retain && !connection.retainAvailable {
                queuedPublishes.removeFirst().promise.fail(MQTTClientError(.notSupportedByBroker, "the broker does not support retained messages"))
                continue
            }
            if next.packet.qos == .atMostOnce {
                let queued = queuedPublishes.removeFirst()
                let written = eventLoop.makePromise(of: Void.self)
                do {
                    try write(queued.packet, on: connection, promise: written)
                    wrote = true
                } catch {
                    written.fail(error)
                }
                written.futureResult.map { PublishResult() }.flatMapErrorThrowing { throw Self.writeError($0) }.cascade(to: queued.promise)
                continue
            }
            guard let packet = session.startOutgoing(next.packet, promise: next.promise, storeKey: next.storeKey) else { break }
            queuedPublishes.removeFirst()
            do {
                try write(packet, on: connection, promise: nil)
                wrote = true
            } catch {
                _ = session.finishOutgoing(packet.packetIdentifier!)
                next.promise.fail(error)
            }
        }
        if wrote { scheduleFlush() }
    }

    /// Flushes once the event loop has run what is already queued on it: publishes queued together (a bridge's,
    /// a burst's) leave in one write instead of one system call each.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            if case .connected(let connection) = state { connection.channel.flush() }
        }
    }

    /// Writes (without flushing) a PUBLISH, using a topic alias when the connection has one to spare and the
    /// result fits the broker's Maximum Packet Size.
    func write(_ packet: PublishPacket, on connection: Connection, promise: EventLoopPromise<Void>?) throws {
        var resolution = connection.outgoingAliases?.resolve(packet.topic) ?? .topicOnly
        var wire = resolution.apply(to: packet)
        var size = Packet.publish(wire).encodedSize(version: connection.version)
        if size > connection.maximumPacketSize, case .assign = resolution {
            resolution = .topicOnly
            wire = packet
            size = Packet.publish(wire).encodedSize(version: connection.version)
        }
        guard size <= connection.maximumPacketSize else {
            throw MQTTClientError(
                .packetTooLarge, "the PUBLISH to '\(packet.topic)' is \(size) bytes, above the broker's maximum of \(connection.maximumPacketSize)")
        }
        if case .assign(let alias) = resolution { connection.outgoingAliases?.commit(packet.topic, alias: alias) }
        connection.channel.write(Packet.publish(wire), promise: promise)
    }

    /// Resends what the session holds after a reconnect (4.4), or settles it when the broker lost the session.
    func resumeSession(sessionPresent: Bool, on connection: Connection) {
        if !sessionPresent {
            session.incomingQoS2.removeAll()
        }
        // A message whose PUBREC the application had not given yet comes again and is delivered again.
        for identifier in session.unacknowledgedQoS2 { session.incomingQoS2.remove(identifier) }
        session.unacknowledgedQoS2.removeAll()
        for flow in session.outgoingInOrder {
            let identifier = flow.packet.packetIdentifier!
            switch flow.stage {
            case .awaitingPubComp(let result):
                if sessionPresent {
                    connection.channel.write(Packet.pubRel(AcknowledgementPacket(packetIdentifier: identifier)), promise: nil)
                } else {
                    // The broker had the message (it sent PUBREC) and then lost the session: the flow cannot be
                    // finished, and sending the message again would deliver it twice.
                    _ = finishAcknowledged(identifier)
                    flow.promise?.succeed(result)
                }
            case .awaitingPubAck, .awaitingPubRec:
                var packet = flow.packet
                // MQTT-3.3.1-1: DUP marks a redelivery to a session that may have seen it; a new session has not.
                packet.duplicate = sessionPresent
                do {
                    try write(packet, on: connection, promise: nil)
                } catch {
                    _ = session.finishOutgoing(identifier)
                    flow.promise?.fail(error)
                }
            }
        }
        if !sessionPresent { resubscribe() }
        sendPendingControl()
        sendQueuedPublishes()
        connection.channel.flush()
    }

    /// Ends the flow of a publish the broker has acknowledged, and lets the outgoing store forget it.
    func finishAcknowledged(_ identifier: UInt16) -> ClientSession.OutgoingPublish? {
        let flow = session.finishOutgoing(identifier)
        forgetStored(flow?.storeKey)
        return flow
    }

    /// The broker has the message of `key` (PUBACK, PUBREC): the outgoing store need not keep it any longer.
    func forgetStored(_ key: UInt64?) {
        guard let key, let store = configuration.outgoingStore else { return }
        let logger = self.logger
        let bound = self.bound
        storeRemovalsPending += 1
        Task {
            do {
                try await store.remove(key)
            } catch {
                logger.warning("the outgoing store could not forget an acknowledged message", metadata: ["error": "\(error)"])
            }
            bound.eventLoop.execute { bound.value.storeRemovalEnded() }
        }
    }

    private func storeRemovalEnded() {
        storeRemovalsPending -= 1
        guard storeRemovalsPending == 0 else { return }
        let waiters = storeRemovalsWaiters
        storeRemovalsWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    /// Succeeds once the outgoing store has forgotten every message the broker acknowledged so far, so that a
    /// program that closes the store after `disconnect()` does not send them again next time.
    func storeRemovalsSettled() -> EventLoopFuture<Void> {
        guard storeRemovalsPending > 0 else { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        storeRemovalsWaiters.append(promise)
        return promise.futureResult
    }

    static func writeError(_ error: any Error) -> MQTTClientError {
        if let error = error as? MQTTClientError { return error }
        if let error = error as? MQTTError, case .packetTooLarge(let size, let maximum) = error.kind {
            return MQTTClientError(.packetTooLarge, "the packet is \(size) bytes, above MQTT's maximum of \(maximum)")
        }
        return MQTTClientError(.connectionLost, "connection lost before the message was written", underlying: error)
    }
}
