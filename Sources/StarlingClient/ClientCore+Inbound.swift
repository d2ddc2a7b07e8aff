import NIOCore

extension ClientCore {
    /// Called by the handler for every packet after CONNACK but PINGRESP and DISCONNECT.
    func received(_ packet: Packet, connectionID: UInt64) {
        guard case .connected(let connection) = state, connection.id == connectionID else { return }
        switch packet {
        case .publish(let publish):
            receivedPublish(publish, on: connection)
        case .pubAck(let ack):
            receivedPubAck(ack, on: connection)
        case .pubRec(let ack):
            receivedPubRec(ack, on: connection)
        case .pubRel(let ack):
            // 4.3.3 method B: the identifier may be reused once PUBCOMP is sent.
            let known = session.incomingQoS2.remove(ack.packetIdentifier) != nil
            let code: ReasonCode = known || connection.version != .v5 ? .success : .packetIdentifierNotFound
            connection.channel.writeAndFlush(Packet.pubComp(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier, reasonCode: code)), promise: nil)
        case .pubComp(let ack):
            receivedPubComp(ack, on: connection)
        case .subAck(let ack):
            receivedSubAck(ack, on: connection)
        case .unsubAck(let ack):
            receivedUnsubAck(ack, on: connection)
        default:
            connection.handler.close(with: .protocolError("unexpected \(packet.type) from the broker"), reasonCode: .protocolError)
        }
    }

    private func receivedPublish(_ publish: PublishPacket, on connection: Connection) {
        var topic = publish.topic
        if connection.version == .v5, let alias = publish.properties.topicAlias {
            // MQTT-3.3.2-8, -9: an alias must be within the maximum this client announced.
            switch connection.incomingAliases.resolve(topic: topic, alias: alias, maximum: connection.incomingAliasMaximum) {
            case .success(let resolved):
                topic = resolved
            case .failure(.outOfRange(let alias)):
                return connection.handler.close(with: .protocolError("topic alias \(alias) is out of range"), reasonCode: .topicAliasInvalid)
            case .failure(.unknown(let alias)):
                return connection.handler.close(with: .protocolError("topic alias \(alias) was never set"), reasonCode: .protocolError)
            }
        }
        let message = MQTTMessage(
            topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
            packetIdentifier: publish.packetIdentifier, properties: publish.properties)
        switch publish.qos {
        case .atMostOnce:
            deliver(message)
        case .atLeastOnce:
            deliver(message)
            guard !configuration.acknowledgesManually else { return }
            connection.channel.writeAndFlush(Packet.pubAck(AcknowledgementPacket(packetIdentifier: publish.packetIdentifier!)), promise: nil)
        case .exactlyOnce:
            let identifier = publish.packetIdentifier!
            if session.incomingQoS2.insert(identifier).inserted {
                if let maximum = configuration.receiveMaximum, connection.version == .v5, session.incomingQoS2.count > Int(maximum) {
                    return connection.handler.close(
                        with: .protocolError("the broker exceeded this client's Receive Maximum of \(maximum)"), reasonCode: .receiveMaximumExceeded)
                }
                if configuration.acknowledgesManually { session.unacknowledgedQoS2.insert(identifier) }
                deliver(message)
            }
            // Sent again for a duplicate the application has acknowledged; one it has not will be when it does.
            guard !session.unacknowledgedQoS2.contains(identifier) else { return }
            connection.channel.writeAndFlush(Packet.pubRec(AcknowledgementPacket(packetIdentifier: identifier)), promise: nil)
        }
    }

    private func receivedPubAck(_ ack: AcknowledgementPacket, on connection: Connection) {
        guard let flow = session[outgoing: ack.packetIdentifier], case .awaitingPubAck = flow.stage else {
            logger.debug("PUBACK for a publish not in flight", metadata: ["packetIdentifier": "\(ack.packetIdentifier)"])
            return
        }
        _ = finishAcknowledged(ack.packetIdentifier)
        complete(flow, with: PublishResult(reasonCode: ack.reasonCode, properties: ack.properties))
        sendQueuedPublishes()
    }

    private func receivedPubRec(_ ack: AcknowledgementPacket, on connection: Connection) {
        guard let flow = session[outgoing: ack.packetIdentifier] else {
            // MQTT-4.3.3: answer so the broker can end its side of the flow.
            let code: ReasonCode = connection.version == .v5 ? .packetIdentifierNotFound : .success
            connection.channel.writeAndFlush(Packet.pubRel(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier, reasonCode: code)), promise: nil)
            return
        }
        let result = PublishResult(reasonCode: ack.reasonCode, properties: ack.properties)
        switch flow.stage {
        case .awaitingPubRec:
            if ack.reasonCode.isFailure {
                // A failed PUBREC ends the flow (4.3.3): no PUBREL follows.
                _ = finishAcknowledged(ack.packetIdentifier)
                complete(flow, with: result)
                sendQueuedPublishes()
                return
            }
            session[outgoing: ack.packetIdentifier]?.stage = .awaitingPubComp(result)
            // The broker has the message: what is left of the flow is its release.
            forgetStored(flow.storeKey)
            session[outgoing: ack.packetIdentifier]?.storeKey = nil
        case .awaitingPubComp:
            break
        case .awaitingPubAck:
            return connection.handler.close(with: .protocolError("PUBREC for a QoS 1 publish"), reasonCode: .protocolError)
        }
        connection.channel.writeAndFlush(Packet.pubRel(AcknowledgementPacket(packetIdentifier: ack.packetIdentifier)), promise: nil)
    }

    private func receivedPubComp(_ ack: AcknowledgementPacket, on connection: Connection) {
        guard let flow = session[outgoing: ack.packetIdentifier], case .awaitingPubComp(let result) = flow.stage else {
            logger.debug("PUBCOMP for a publish not in flight", metadata: ["packetIdentifier": "\(ack.packetIdentifier)"])
            return
        }
        _ = finishAcknowledged(ack.packetIdentifier)
        complete(flow, with: result)
        sendQueuedPublishes()
    }

    private func complete(_ flow: ClientSession.OutgoingPublish, with result: PublishResult) {
        guard result.reasonCode.isFailure else {
            flow.promise?.succeed(result)
            return
        }
        flow.promise?.fail(MQTTClientError(
            .publishRefused, "the broker refused the publish to '\(flow.packet.topic)'", reasonCode: result.reasonCode,
            reasonString: result.properties.reasonString))
    }

    /// With `acknowledgesManually`, the application is done with `message`: PUBACK or PUBREC goes out on the
    /// connection it arrived on, if that connection is still up; otherwise the broker sends the message again.
    func acknowledge(_ message: MQTTMessage, flush: Bool = true) {
        guard let identifier = message.packetIdentifier, case .connected(let connection) = state else { return }
        let packet: Packet
        switch message.qos {
        case .atMostOnce:
            return
        case .atLeastOnce:
            packet = .pubAck(AcknowledgementPacket(packetIdentifier: identifier))
        case .exactlyOnce:
            guard session.unacknowledgedQoS2.remove(identifier) != nil else { return }
            packet = .pubRec(AcknowledgementPacket(packetIdentifier: identifier))
        }
        if flush {
            connection.channel.writeAndFlush(packet, promise: nil)
        } else {
            connection.channel.write(packet, promise: nil)
        }
    }

    /// Sends what `acknowledge(_:flush:)` wrote without flushing.
    func flush() {
        guard case .connected(let connection) = state else { return }
        connection.channel.flush()
    }

    /// Hands a message to the live subscriptions it belongs to and to every message listener.
    func deliver(_ message: MQTTMessage) {
        var delivered = false
        var lagging = false
        for owner in owners(of: message) {
            guard let sink = liveSubscriptions[owner]?.sink else { continue }
            if !sink.yield(message) { lagging = laggingStreams.insert(sink.id).inserted || lagging }
            delivered = true
        }
        for listener in messageListeners.values {
            if !listener.yield(message) { lagging = laggingStreams.insert(listener.id).inserted || lagging }
            delivered = true
        }
        if !delivered {
            for live in liveSubscriptions.values where live.receivesUnclaimed {
                if !live.sink.yield(message) { lagging = laggingStreams.insert(live.sink.id).inserted || lagging }
                delivered = true
            }
        }
        if lagging { updateReading() }
        if !delivered {
            logger.warning("message matches no subscription stream and no listener; dropped", metadata: ["topic": "\(message.topic)"])
        }
    }

    /// The live subscriptions a message is for: by Subscription Identifier when the broker names them, so that
    /// overlapping filters each get exactly their own copies; otherwise by matching the topic to their filters.
    private func owners(of message: MQTTMessage) -> [Int] {
        let identifiers = message.properties.subscriptionIdentifiers
        if !identifiers.isEmpty {
            var filters = Set<String>()
            for (filter, record) in session.subscriptions where record.identifierSent && identifiers.contains(record.owner) {
                filters.insert(filter)
            }
            // An identifier can also be a resumed session's, sent by an earlier run of the client for a subscription
            // this run does not know: a stream whose filters do not match the topic is not the one it names.
            let named = liveSubscriptions.compactMap { owner, live in
                live.rawFilters.contains(where: filters.contains) && live.filters.contains { $0.matches(message.topic) }
                    ? owner : nil
            }
            if !named.isEmpty { return named }
        }
        return liveSubscriptions.compactMap { owner, live in live.filters.contains { $0.matches(message.topic) } ? owner : nil }
    }
}
