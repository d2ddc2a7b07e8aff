import MQTT
import NIOCore

/// The exchanges most tests need, each checked as it goes: a reply other than the one expected throws.
extension RawClient {
    /// Subscribes and returns the SUBACK reason codes; the broker routes to the subscription once SUBACK is out.
    @discardableResult
    public func subscribe(
        _ filters: [(String, SubscriptionOptions)], packetIdentifier: UInt16 = 1, subscriptionIdentifier: Int? = nil
    ) async throws -> [ReasonCode] {
        let properties: Properties = subscriptionIdentifier.map { [.subscriptionIdentifier($0)] } ?? []
        try await send(.subscribe(SubscribePacket(
            packetIdentifier: packetIdentifier,
            subscriptions: filters.map { SubscribePacket.Subscription(topicFilter: $0.0, options: $0.1) },
            properties: properties)))
        let subAck = try await expectSubAck()
        guard subAck.packetIdentifier == packetIdentifier else {
            throw Failure(description: "SUBACK for \(subAck.packetIdentifier), expected \(packetIdentifier)")
        }
        return subAck.reasonCodes
    }

    /// Subscribes to one filter with `qos` and returns the SUBACK reason codes.
    @discardableResult
    public func subscribe(_ filter: String, qos: QoS = .atMostOnce, packetIdentifier: UInt16 = 1, subscriptionIdentifier: Int? = nil) async throws -> [ReasonCode] {
        try await subscribe([(filter, SubscriptionOptions(qos: qos))], packetIdentifier: packetIdentifier, subscriptionIdentifier: subscriptionIdentifier)
    }

    /// Publishes at QoS 0; nothing comes back.
    public func publish(_ topic: String, _ payload: String, retain: Bool = false, properties: Properties = []) async throws {
        try await send(.publish(PublishPacket(topic: topic, payload: ByteBuffer(string: payload), retain: retain, properties: properties)))
    }

    /// Publishes at QoS 1 and waits for its PUBACK.
    @discardableResult
    public func publishQoS1(_ topic: String, _ payload: String, packetIdentifier: UInt16 = 1, retain: Bool = false) async throws -> AcknowledgementPacket {
        try await send(.publish(PublishPacket(
            topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: retain, packetIdentifier: packetIdentifier)))
        let ack = try await expectPubAck()
        guard ack.packetIdentifier == packetIdentifier else {
            throw Failure(description: "PUBACK for \(ack.packetIdentifier), expected \(packetIdentifier)")
        }
        return ack
    }

    /// Publishes at QoS 1 to a topic this client is subscribed to: returns its own copy, which the broker may send
    /// before or after the PUBACK.
    public func publishQoS1ToItself(_ topic: String, _ payload: String, packetIdentifier: UInt16 = 1) async throws -> PublishPacket {
        try await send(.publish(PublishPacket(
            topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, packetIdentifier: packetIdentifier)))
        var acknowledged = false
        var copy: PublishPacket?
        while !acknowledged || copy == nil {
            switch try await nextPacket() {
            case .pubAck(let ack) where ack.packetIdentifier == packetIdentifier && !acknowledged: acknowledged = true
            case .publish(let publish) where copy == nil: copy = publish
            case let other: throw Failure(description: "expected PUBACK and PUBLISH, got \(other)")
            }
        }
        return copy!
    }

    /// The PUBLISH packets received before the `markers`th whose topic `isMarker` accepts (markers left out), each
    /// QoS 1 one acknowledged. A marker shows that nothing more is coming from the client that published it after
    /// its messages: the broker keeps one publisher's messages in order, but not those of several publishers with
    /// one another, so with several publishers each publishes a marker and `markers` is their number.
    public func publishes(until isMarker: (String) -> Bool, markers: Int = 1) async throws -> [PublishPacket] {
        var received: [PublishPacket] = []
        var seen = 0
        while true {
            let publish = try await expectPublish()
            if isMarker(publish.topic) {
                seen += 1
                if seen == markers { return received }
                continue
            }
            received.append(publish)
            if publish.qos == .atLeastOnce, let identifier = publish.packetIdentifier {
                try await send(.pubAck(AcknowledgementPacket(packetIdentifier: identifier)))
            }
        }
    }

    /// Ends the connection normally and waits until the broker has closed it.
    public func disconnect(_ reasonCode: ReasonCode = .normalDisconnection, properties: Properties = []) async throws {
        try await send(.disconnect(DisconnectPacket(reasonCode: reasonCode, properties: properties)))
        try await expectClosed()
    }
}

extension PublishPacket {
    /// The payload as UTF-8 text.
    public var payloadString: String { String(buffer: payload) }
}
