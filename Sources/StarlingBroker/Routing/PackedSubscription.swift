import MQTT

/// A subscription's options and Subscription Identifier in one word: what the topic tree and the session keep
/// for each subscription besides its filter, so that a subscription costs 8 bytes of options rather than a
/// struct with an optional `Int` and four enums' worth of padding.
///
/// Bits 0–7: the Subscription Options byte as 5.0 encodes it (QoS, No Local, Retain As Published, Retain
/// Handling); bit 8: whether there is an identifier; bits 32–63: the identifier (at most 268,435,455, 3.8.2.1.2).
struct PackedSubscription: Hashable, Sendable {
    private let word: UInt64

    init(options: SubscriptionOptions, identifier: Int?) {
        var word = UInt64(options.qos.rawValue)
        if options.noLocal { word |= 0x04 }
        if options.retainAsPublished { word |= 0x08 }
        word |= UInt64(options.retainHandling.rawValue) << 4
        if let identifier {
            word |= 0x100 | UInt64(UInt32(truncatingIfNeeded: identifier)) << 32
        }
        self.word = word
    }

    var qos: QoS { QoS(rawValue: UInt8(truncatingIfNeeded: word) & 0x03) ?? .atMostOnce }
    var noLocal: Bool { word & 0x04 != 0 }
    var retainAsPublished: Bool { word & 0x08 != 0 }

    var options: SubscriptionOptions {
        SubscriptionOptions(
            qos: QoS(rawValue: UInt8(word & 0x03)) ?? .atMostOnce, noLocal: word & 0x04 != 0,
            retainAsPublished: word & 0x08 != 0,
            retainHandling: SubscriptionOptions.RetainHandling(rawValue: UInt8((word >> 4) & 0x03)) ?? .sendOnSubscribe)
    }

    var identifier: Int? {
        word & 0x100 == 0 ? nil : Int(word >> 32)
    }
}
