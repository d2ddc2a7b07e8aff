import MQTT
import Testing

/// SUBSCRIBE and UNSUBSCRIBE payloads: subscription options and non-empty filter lists.
@Suite struct SubscriptionValidationTests {
    static func subscribe(_ version: ProtocolVersion, filter: String = "a/b", options: UInt8) -> [UInt8] {
        Wire.packet(0x82, Wire.uint16(1), version == .v5 ? [0x00] : [], Wire.string(filter), [options])
    }

    /// 3.1.1 uses only the two QoS bits; the other six are reserved (MQTT-3-8.3-4 in 3.1.1's numbering).
    @Test(arguments: [0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFC] as [UInt8])
    func reservedOptionBitsAreMalformedIn311(_ options: UInt8) {
        expectDecodingError(Self.subscribe(.v3_1_1, options: options), version: .v3_1_1, .invalidSubscriptionOptions, .malformedPacket)
        expectDecodingError(Self.subscribe(.v3_1, options: options), version: .v3_1, .invalidSubscriptionOptions, .malformedPacket)
    }

    /// MQTT-3-8.3-4 (3.1.1): a requested QoS other than 0, 1 or 2 is malformed.
    @Test func requestedQoS3IsMalformedIn311() {
        expectDecodingError(Self.subscribe(.v3_1_1, options: 0x03), version: .v3_1_1, .invalidSubscriptionOptions, .malformedPacket)
    }

    /// 3.8.3.1 (5.0): "It is a Protocol Error if the Maximum QoS field has the value 3."
    @Test(arguments: [0x03, 0x07, 0x2F] as [UInt8])
    func requestedQoS3IsAProtocolErrorIn5(_ options: UInt8) {
        expectDecodingError(Self.subscribe(.v5, options: options), version: .v5, .invalidSubscriptionQoS, .protocolError)
    }

    /// MQTT-3.8.3-5: bits 6 and 7 of the 5.0 options byte are reserved.
    @Test(arguments: [0x40, 0x80, 0xC0, 0x6A] as [UInt8])
    func reservedOptionBitsAreMalformedIn5(_ options: UInt8) {
        expectDecodingError(Self.subscribe(.v5, options: options), version: .v5, .invalidSubscriptionOptions, .malformedPacket)
    }

    /// 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
    @Test(arguments: [0x30, 0x31, 0x3E] as [UInt8])
    func retainHandling3IsAProtocolError(_ options: UInt8) {
        expectDecodingError(Self.subscribe(.v5, options: options), version: .v5, .invalidRetainHandling, .protocolError)
    }

    /// Every meaningful 5.0 options byte decodes to its fields.
    @Test func everyValidOptionsByteDecodes() throws {
        for options in UInt8(0)...0x2F where options & 0x03 != 3 {
            let packet = try decodePacket(Self.subscribe(.v5, options: options), version: .v5)
            let expected = SubscriptionOptions(
                qos: QoS(rawValue: options & 0x03)!, noLocal: options & 0x04 != 0, retainAsPublished: options & 0x08 != 0,
                retainHandling: .init(rawValue: options >> 4)!)
            #expect(packet == .subscribe(SubscribePacket(
                packetIdentifier: 1, subscriptions: [.init(topicFilter: "a/b", options: expected)])))
        }
    }

    /// MQTT-3.8.3-4 (5.0): "It is a Protocol Error to set the No Local bit to 1 on a Shared Subscription."
    @Test func noLocalOnASharedSubscriptionIsAProtocolError() throws {
        expectDecodingError(
            Self.subscribe(.v5, filter: "$share/group/a/b", options: 0x04), version: .v5, .noLocalOnSharedSubscription, .protocolError)
        #expect(try decodePacket(Self.subscribe(.v5, filter: "$share/group/a/b", options: 0x00), version: .v5) != nil)
        #expect(try decodePacket(Self.subscribe(.v5, filter: "$shared/a/b", options: 0x04), version: .v5) != nil)
    }

    /// A SUBSCRIBE needs at least one topic filter (3.1.1: MQTT-3.8.3-3; 5.0: MQTT-3.8.3-2).
    @Test func anEmptySubscribeIsAProtocolError() {
        expectDecodingError([0x82, 0x02, 0x00, 0x01], version: .v3_1_1, .emptySubscriptionList, .protocolError)
        expectDecodingError([0x82, 0x03, 0x00, 0x01, 0x00], version: .v5, .emptySubscriptionList, .protocolError)
        expectDecodingError(
            Wire.packet(0x82, Wire.uint16(1), Wire.properties([0x0B, 0x01])), version: .v5, .emptySubscriptionList, .protocolError)
    }

    /// MQTT-3.10.3-2: an UNSUBSCRIBE needs at least one topic filter.
    @Test func anEmptyUnsubscribeIsAProtocolError() {
        expectDecodingError([0xA2, 0x02, 0x00, 0x01], version: .v3_1_1, .emptySubscriptionList, .protocolError)
        expectDecodingError([0xA2, 0x03, 0x00, 0x01, 0x00], version: .v5, .emptySubscriptionList, .protocolError)
    }

    /// A SUBACK / 5.0 UNSUBACK carries one reason code per filter, so none at all is as wrong as no filter.
    @Test func anAcknowledgementWithoutReasonCodesIsAProtocolError() {
        expectDecodingError([0x90, 0x02, 0x00, 0x01], version: .v3_1_1, .emptySubscriptionList, .protocolError)
        expectDecodingError([0x90, 0x03, 0x00, 0x01, 0x00], version: .v5, .emptySubscriptionList, .protocolError)
        expectDecodingError([0xB0, 0x03, 0x00, 0x01, 0x00], version: .v5, .emptySubscriptionList, .protocolError)
    }

    /// Filters are not validated by the decoder: 5.0 refuses a bad one with SUBACK 0x8F for that filter alone.
    @Test func invalidFiltersAreLeftToTheReceiver() throws {
        let packet = try decodePacket(Self.subscribe(.v5, filter: "a+/#/b", options: 0x00), version: .v5)
        #expect(packet == .subscribe(SubscribePacket(packetIdentifier: 1, subscriptions: [.init(topicFilter: "a+/#/b", qos: .atMostOnce)])))
    }
}
