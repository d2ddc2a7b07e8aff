import MQTT
import Testing

@testable import StarlingBroker

/// SUBSCRIBE's rules, from tables: packet, ACL and hook answers and the session's filters in; reason codes and
/// accepted subscriptions, or a disconnect, out; no socket.
@Suite struct SubscribeNegotiationTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var filters: [(String, QoS)]
        var version: ProtocolVersion = .v5
        var identifier: Int? = nil
        var settings: @Sendable (inout BrokerConfiguration) -> Void = { _ in }
        var decisions: [SubscribeAuthorization]? = nil
        /// Filters the ACL refuses.
        var denied: Set<String> = []
        /// Filters the session holds already.
        var held: Set<String> = []
        var expected: Expected
    }

    enum Expected: Sendable {
        /// Reason codes, and the filters accepted with their granted QoS and whether they are new.
        case answer([ReasonCode], accepted: [(String, QoS, isNew: Bool)])
        case disconnect(ReasonCode)
    }

    static let rows: [Row] = [
        Row(testDescription: "granted as asked", filters: [("a/b", .atLeastOnce), ("c/#", .atMostOnce)],
            expected: .answer([.grantedQoS1, .grantedQoS0], accepted: [("a/b", .atLeastOnce, true), ("c/#", .atMostOnce, true)])),
        Row(testDescription: "granted up to the Maximum QoS (MQTT-3.2.2-10)", filters: [("a", .exactlyOnce)],
            settings: { $0.maximumQoS = .atLeastOnce }, expected: .answer([.grantedQoS1], accepted: [("a", .atLeastOnce, true)])),
        Row(testDescription: "an invalid filter fails alone, 5.0", filters: [("a/#/b", .atMostOnce), ("ok", .atMostOnce)],
            expected: .answer([.topicFilterInvalid, .grantedQoS0], accepted: [("ok", .atMostOnce, true)])),
        Row(testDescription: "an invalid filter fails alone, 3.1.1", filters: [("a+", .atMostOnce)], version: .v3_1_1,
            expected: .answer([.subscriptionFailure], accepted: [])),
        Row(testDescription: "the ACL refuses, 5.0: Not authorized", filters: [("secret/#", .atMostOnce), ("open", .atMostOnce)],
            denied: ["secret/#"], expected: .answer([.notAuthorized, .grantedQoS0], accepted: [("open", .atMostOnce, true)])),
        Row(testDescription: "the ACL refuses, 3.1.1: Failure", filters: [("secret/#", .atMostOnce)], version: .v3_1_1,
            denied: ["secret/#"], expected: .answer([.subscriptionFailure], accepted: [])),
        Row(testDescription: "the hook refuses with its reason", filters: [("a", .atMostOnce)], decisions: [.refuse(.quotaExceeded)],
            expected: .answer([.quotaExceeded], accepted: [])),
        Row(testDescription: "the hook refuses with a success code: Not authorized", filters: [("a", .atMostOnce)],
            decisions: [.refuse(.success)], expected: .answer([.notAuthorized], accepted: [])),
        Row(testDescription: "the hook downgrades", filters: [("a", .exactlyOnce)], decisions: [.downgrade(.atMostOnce)],
            expected: .answer([.grantedQoS0], accepted: [("a", .atMostOnce, true)])),
        Row(testDescription: "a filter held already is not new", filters: [("a", .atMostOnce)], held: ["a"],
            expected: .answer([.grantedQoS0], accepted: [("a", .atMostOnce, false)])),
        Row(testDescription: "a filter repeated in the packet is new once", filters: [("a", .atMostOnce), ("a", .atLeastOnce)],
            expected: .answer([.grantedQoS0, .grantedQoS1], accepted: [("a", .atMostOnce, true), ("a", .atLeastOnce, false)])),
        Row(testDescription: "over the subscription quota, 5.0", filters: [("x", .atMostOnce), ("y", .atMostOnce)],
            settings: { $0.limits.maximumSubscriptionsPerClient = 2 }, held: ["a"],
            expected: .answer([.grantedQoS0, .quotaExceeded], accepted: [("x", .atMostOnce, true)])),
        Row(testDescription: "a held filter is renewed at the quota", filters: [("a", .atLeastOnce)],
            settings: { $0.limits.maximumSubscriptionsPerClient = 1 }, held: ["a"],
            expected: .answer([.grantedQoS1], accepted: [("a", .atLeastOnce, false)])),
        Row(testDescription: "a Subscription Identifier when they are off", filters: [("a", .atMostOnce)], identifier: 4,
            settings: { $0.subscriptionIdentifiersAvailable = false }, expected: .disconnect(.subscriptionIdentifiersNotSupported)),
        Row(testDescription: "5.0 shared subscription when off: the connection ends", filters: [("ok", .atMostOnce), ("$share/g/a", .atMostOnce)],
            settings: { $0.sharedSubscriptionAvailable = false }, expected: .disconnect(.sharedSubscriptionsNotSupported)),
        Row(testDescription: "5.0 wildcard when off: the connection ends", filters: [("a/+", .atMostOnce)],
            settings: { $0.wildcardSubscriptionAvailable = false }, expected: .disconnect(.wildcardSubscriptionsNotSupported)),
        Row(testDescription: "3.1.1 wildcard when off: that subscription fails", filters: [("a/+", .atMostOnce), ("a", .atMostOnce)],
            version: .v3_1_1, settings: { $0.wildcardSubscriptionAvailable = false },
            expected: .answer([.subscriptionFailure, .grantedQoS0], accepted: [("a", .atMostOnce, true)])),
    ]

    @Test(arguments: rows)
    func negotiates(_ row: Row) throws {
        var configuration = BrokerConfiguration()
        row.settings(&configuration)
        let negotiation = SubscribeNegotiation(configuration: configuration)
        let packet = SubscribePacket(
            packetIdentifier: 1, subscriptions: row.filters.map { SubscribePacket.Subscription(topicFilter: $0.0, qos: $0.1) },
            properties: row.identifier.map { [.subscriptionIdentifier($0)] } ?? [])
        let outcome = negotiation.negotiate(
            packet, version: row.version, decisions: row.decisions,
            maySubscribe: { !row.denied.contains($0.rawValue) }, isSubscribed: { row.held.contains($0.rawValue) },
            subscriptionCount: row.held.count)
        switch (outcome, row.expected) {
        case (.disconnect(let reason, _), .disconnect(let expected)):
            #expect(reason == expected)
        case (.answer(let answer), .answer(let codes, let accepted)):
            #expect(answer.reasonCodes == codes)
            #expect(answer.accepted.map(\.filter.rawValue) == accepted.map(\.0))
            #expect(answer.accepted.map(\.options.qos) == accepted.map(\.1))
            #expect(answer.accepted.map(\.isNew) == accepted.map(\.isNew))
            #expect(answer.denied == row.filters.map(\.0).filter { row.denied.contains($0) })
        default:
            Issue.record("expected \(row.expected), got \(outcome)")
        }
    }
}
