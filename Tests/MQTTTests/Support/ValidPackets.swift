import MQTT
import NIOCore
import PropertyBased

extension Gen where Value == Packet {
    /// Random packets of `type` that are valid in `version`, with MQTT 5.0 properties valid for the packet type.
    static func valid(_ type: PacketType, version: ProtocolVersion) -> Generator<Packet, Shrink.None<Packet>> {
        Generator { rng in makeValidPacket(type, version: version, using: &rng) }
    }
}

func makeValidPacket<G: RandomNumberGenerator>(_ type: PacketType, version: ProtocolVersion, using rng: inout G) -> Packet {
    var source = ValidPacketSource(rng: rng)
    defer { rng = source.rng }
    return source.packet(type, version: version)
}

/// The reason codes each packet type may carry, as tabulated by the MQTT 5.0 specification.
enum SpecificationReasonCodes {
    static let connAck: [UInt8] = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A,
        0x9B, 0x9C, 0x9D, 0x9F,
    ]
    /// PUBACK (3.4.2.1) and PUBREC (3.5.2.1).
    static let publishAcknowledgement: [UInt8] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
    /// PUBREL (3.6.2.1) and PUBCOMP (3.7.2.1).
    static let releaseAcknowledgement: [UInt8] = [0x00, 0x92]
    static let subAck: [UInt8] = [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]
    static let unsubAck: [UInt8] = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]
    static let disconnect: [UInt8] = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ]
    static let auth: [UInt8] = [0x00, 0x18, 0x19]
    /// CONNACK return codes of 3.1/3.1.1 (3.2.2.3).
    static let connAckV3: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05]
    /// SUBACK return codes of 3.1/3.1.1 (3.9.3).
    static let subAckV3: [UInt8] = [0x00, 0x01, 0x02, 0x80]
}

/// Draws valid packets from a random number generator. Sizes lean small, with edge values (variable byte
/// integer boundaries, empty strings, multi-byte characters) drawn often enough to be met in every run.
struct ValidPacketSource<G: RandomNumberGenerator> {
    var rng: G

    // MARK: Primitives

    mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &rng) < probability
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &rng)
    }

    mutating func pick<T>(_ values: [T]) -> T {
        values.randomElement(using: &rng)!
    }

    mutating func uint16(in range: ClosedRange<UInt16> = 0...UInt16.max) -> UInt16 {
        chance(0.2) ? pick([range.lowerBound, range.upperBound]) : UInt16.random(in: range, using: &rng)
    }

    mutating func uint32(in range: ClosedRange<UInt32> = 0...UInt32.max) -> UInt32 {
        chance(0.2) ? pick([range.lowerBound, range.upperBound]) : UInt32.random(in: range, using: &rng)
    }

    mutating func packetIdentifier() -> UInt16 {
        uint16(in: 1...UInt16.max)
    }

    /// Characters a `.strict` receiver accepts: printable ASCII and a spread of 2-, 3- and 4-byte scalars.
    static var characters: [Unicode.Scalar] {
        (0x20...0x7E).map { Unicode.Scalar(UInt8($0)) }
            + ["\u{A0}", "é", "ß", "Ω", "ж", "€", "日", "本", "\u{FFFD}", "\u{FEFF}", "😀", "\u{10000}", "\u{10FFFD}"]
    }

    mutating func string(maximumLength: Int = 12, from characters: [Unicode.Scalar] = Self.characters) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<int(0...maximumLength) { scalars.append(pick(characters)) }
        return String(scalars)
    }

    mutating func bytes(maximumCount: Int = 16) -> ByteBuffer {
        var buffer = ByteBuffer()
        for _ in 0..<int(0...maximumCount) { buffer.writeInteger(UInt8.random(in: 0...255, using: &rng)) }
        return buffer
    }

    /// A payload; now and then long enough to need a two- or three-byte remaining length.
    mutating func payload() -> ByteBuffer {
        if chance(0.02) {
            var buffer = ByteBuffer(repeating: UInt8.random(in: 0...255, using: &rng), count: int(16_384...20_000))
            buffer.setInteger(UInt8.random(in: 0...255, using: &rng), at: int(0...buffer.readableBytes - 1))
            return buffer
        }
        return bytes(maximumCount: chance(0.1) ? 300 : 24)
    }

    /// A topic name: one or more levels, possibly empty, never a wildcard.
    mutating func topicName() -> String {
        let characters = Self.characters.filter { $0 != "+" && $0 != "#" && $0 != "/" }
        var levels: [String] = []
        for _ in 0..<int(1...4) { levels.append(string(maximumLength: 6, from: characters)) }
        let name = levels.joined(separator: "/")
        return name.isEmpty ? "t" : name
    }

    /// A valid topic filter, a shared one when `shared` is set.
    mutating func topicFilter(shared: Bool = false) -> String {
        let characters = Self.characters.filter { $0 != "+" && $0 != "#" && $0 != "/" }
        var levels: [String] = []
        for _ in 0..<int(1...4) { levels.append(chance(0.25) ? "+" : string(maximumLength: 6, from: characters)) }
        if chance(0.25) { levels.append("#") }
        var filter = levels.joined(separator: "/")
        if filter.isEmpty { filter = "#" }
        guard shared else { return filter }
        var share = string(maximumLength: 6, from: characters)
        if share.isEmpty { share = "g" }
        return "$share/\(share)/\(filter)"
    }

    // MARK: Properties

    /// A property list valid in `context`: each property at most once except those allowed to repeat.
    mutating func properties(_ context: PropertyContext) -> Properties {
        if chance(0.3) { return [] }
        var properties: [Property] = []
        for identifier in Property.Identifier.allCases where identifier.allowedIn.contains(PropertyContext.Set(context)) {
            let count = identifier.mayRepeat(in: context) ? pick([0, 0, 1, 2, 3]) : (chance(0.35) ? 1 : 0)
            for _ in 0..<count { properties.append(property(identifier)) }
        }
        // Authentication Data without an Authentication Method is a Protocol Error (3.1.2.11.10).
        if !properties.contains(where: { $0.identifier == .authenticationMethod }) {
            properties.removeAll { $0.identifier == .authenticationData }
        }
        properties.shuffle(using: &rng)
        return Properties(properties)
    }

    mutating func property(_ identifier: Property.Identifier) -> Property {
        switch identifier {
        case .payloadFormatIndicator: .payloadFormatIndicator(UInt8(int(0...1)))
        case .messageExpiryInterval: .messageExpiryInterval(uint32())
        case .contentType: .contentType(string())
        case .responseTopic: .responseTopic(topicName())
        case .correlationData: .correlationData(bytes())
        case .subscriptionIdentifier: .subscriptionIdentifier(subscriptionIdentifier())
        case .sessionExpiryInterval: .sessionExpiryInterval(uint32())
        case .assignedClientIdentifier: .assignedClientIdentifier(string())
        case .serverKeepAlive: .serverKeepAlive(uint16())
        case .authenticationMethod: .authenticationMethod(string())
        case .authenticationData: .authenticationData(bytes())
        case .requestProblemInformation: .requestProblemInformation(chance(0.5))
        case .willDelayInterval: .willDelayInterval(uint32())
        case .requestResponseInformation: .requestResponseInformation(chance(0.5))
        case .responseInformation: .responseInformation(string())
        case .serverReference: .serverReference(string())
        case .reasonString: .reasonString(string())
        case .receiveMaximum: .receiveMaximum(uint16(in: 1...UInt16.max))
        case .topicAliasMaximum: .topicAliasMaximum(uint16())
        case .topicAlias: .topicAlias(uint16(in: 1...UInt16.max))
        case .maximumQoS: .maximumQoS(pick([.atMostOnce, .atLeastOnce]))
        case .retainAvailable: .retainAvailable(chance(0.5))
        case .userProperty: .userProperty(string(), string())
        case .maximumPacketSize: .maximumPacketSize(uint32(in: 1...UInt32.max))
        case .wildcardSubscriptionAvailable: .wildcardSubscriptionAvailable(chance(0.5))
        case .subscriptionIdentifiersAvailable: .subscriptionIdentifiersAvailable(chance(0.5))
        case .sharedSubscriptionAvailable: .sharedSubscriptionAvailable(chance(0.5))
        }
    }

    /// 1 to 268,435,455, often at a boundary of the variable byte integer's length.
    mutating func subscriptionIdentifier() -> Int {
        chance(0.4)
            ? pick([1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455])
            : int(1...268_435_455)
    }

    // MARK: Packets

    mutating func packet(_ type: PacketType, version: ProtocolVersion) -> Packet {
        let v5 = version == .v5
        switch type {
        case .connect: return .connect(connect(version: version))
        case .connAck:
            let code = pick(v5 ? SpecificationReasonCodes.connAck : SpecificationReasonCodes.connAckV3)
            // Session Present is 0 whenever the connection is refused (MQTT-3.2.2-6 in 5.0, MQTT-3.2.2-4 in 3.1.1).
            return .connAck(ConnAckPacket(
                sessionPresent: code == 0 && chance(0.5), reasonCode: ReasonCode(rawValue: code),
                properties: v5 ? properties(.connAck) : []))
        case .publish: return .publish(publish(version: version))
        case .pubAck: return .pubAck(acknowledgement(SpecificationReasonCodes.publishAcknowledgement, version: version))
        case .pubRec: return .pubRec(acknowledgement(SpecificationReasonCodes.publishAcknowledgement, version: version))
        case .pubRel: return .pubRel(acknowledgement(SpecificationReasonCodes.releaseAcknowledgement, version: version))
        case .pubComp: return .pubComp(acknowledgement(SpecificationReasonCodes.releaseAcknowledgement, version: version))
        case .subscribe:
            var subscriptions: [SubscribePacket.Subscription] = []
            for _ in 0..<int(1...5) {
                let shared = v5 && chance(0.2)
                let options = v5
                    ? SubscriptionOptions(
                        qos: pick(QoS.allCases), noLocal: !shared && chance(0.5), retainAsPublished: chance(0.5),
                        retainHandling: pick(SubscriptionOptions.RetainHandling.allCases))
                    : SubscriptionOptions(qos: pick(QoS.allCases))
                subscriptions.append(.init(topicFilter: topicFilter(shared: shared), options: options))
            }
            return .subscribe(SubscribePacket(
                packetIdentifier: packetIdentifier(), subscriptions: subscriptions,
                properties: v5 ? properties(.subscribe) : []))
        case .subAck:
            let codes = v5 ? SpecificationReasonCodes.subAck : SpecificationReasonCodes.subAckV3
            return .subAck(SubAckPacket(
                packetIdentifier: packetIdentifier(), reasonCodes: reasonCodes(from: codes),
                properties: v5 ? properties(.subAck) : []))
        case .unsubscribe:
            var filters: [String] = []
            for _ in 0..<int(1...5) { filters.append(topicFilter(shared: v5 && chance(0.2))) }
            return .unsubscribe(UnsubscribePacket(
                packetIdentifier: packetIdentifier(), topicFilters: filters,
                properties: v5 ? properties(.unsubscribe) : []))
        case .unsubAck:
            // 3.1/3.1.1 UNSUBACK carries only the packet identifier.
            guard v5 else { return .unsubAck(UnsubAckPacket(packetIdentifier: packetIdentifier())) }
            return .unsubAck(UnsubAckPacket(
                packetIdentifier: packetIdentifier(), reasonCodes: reasonCodes(from: SpecificationReasonCodes.unsubAck),
                properties: properties(.unsubAck)))
        case .pingReq: return .pingReq
        case .pingResp: return .pingResp
        case .disconnect:
            guard v5 else { return .disconnect(DisconnectPacket()) }
            return .disconnect(DisconnectPacket(
                reasonCode: ReasonCode(rawValue: pick(SpecificationReasonCodes.disconnect)),
                properties: properties(.disconnect)))
        case .auth:
            precondition(v5, "AUTH exists in MQTT 5.0 only")
            return .auth(AuthPacket(
                reasonCode: ReasonCode(rawValue: pick(SpecificationReasonCodes.auth)), properties: properties(.auth)))
        }
    }

    mutating func reasonCodes(from codes: [UInt8]) -> [ReasonCode] {
        var result: [ReasonCode] = []
        for _ in 0..<int(1...6) { result.append(ReasonCode(rawValue: pick(codes))) }
        return result
    }

    mutating func connect(version: ProtocolVersion) -> ConnectPacket {
        let v5 = version == .v5
        var will: ConnectPacket.Will?
        if chance(0.5) {
            will = ConnectPacket.Will(
                topic: topicName(), payload: bytes(maximumCount: 40), qos: pick(QoS.allCases), retain: chance(0.5),
                properties: v5 ? properties(.will) : [])
        }
        var userName = chance(0.5) ? string() : nil
        let password = chance(0.5) ? bytes() : nil
        // 3.1/3.1.1 forbid a password without a user name (MQTT-3.1.2-22); 5.0 allows it.
        if !v5 && password != nil && userName == nil { userName = string() }
        return ConnectPacket(
            protocolVersion: version, clientIdentifier: string(maximumLength: 23), cleanStart: chance(0.5),
            keepAlive: uint16(), userName: userName, password: password, will: will,
            properties: v5 ? properties(.connect) : [])
    }

    mutating func publish(version: ProtocolVersion) -> PublishPacket {
        let qos = pick(QoS.allCases)
        var properties = version == .v5 ? properties(.publish) : []
        var topic = topicName()
        // 5.0 lets a Topic Alias stand in for the topic name (3.3.2.3.4).
        if version == .v5 && chance(0.15) {
            topic = ""
            if properties.topicAlias == nil { properties.append(.topicAlias(uint16(in: 1...UInt16.max))) }
        }
        return PublishPacket(
            topic: topic, payload: payload(), qos: qos, retain: chance(0.5),
            // DUP is 0 on every QoS 0 message (MQTT-3.3.1-2).
            duplicate: qos != .atMostOnce && chance(0.5),
            packetIdentifier: qos == .atMostOnce ? nil : packetIdentifier(), properties: properties)
    }

    mutating func acknowledgement(_ codes: [UInt8], version: ProtocolVersion) -> AcknowledgementPacket {
        guard version == .v5 else { return AcknowledgementPacket(packetIdentifier: packetIdentifier()) }
        return AcknowledgementPacket(
            packetIdentifier: packetIdentifier(), reasonCode: ReasonCode(rawValue: pick(codes)),
            properties: properties(.acknowledgement))
    }
}
