import MQTT
import NIOCore
@testable import StarlingBroker
import Testing

/// The outbound flows keep the order they were sent in, whatever is acknowledged, and identifiers come back.
@Suite struct InflightWindowTests {
    private static func outbound(_ tag: Int) -> Session.Outbound {
        Session.Outbound(delivery: Delivery(
            message: Message(topic: "t/\(tag)", payload: ByteBuffer(), qos: .atLeastOnce, retain: false, properties: [], publisher: nil, expiry: nil),
            qos: .atLeastOnce, retain: false, subscriptionIdentifiers: []))
    }

    private static func topics(_ window: InflightWindow) -> [String] {
        window.map(\.outbound.delivery.message.topic)
    }

    @Test func entriesKeepTheOrderTheyWereSentInAcrossRemovalsAndReusedIdentifiers() {
        var window = InflightWindow()
        for identifier in UInt16(1)...5 { window[identifier] = Self.outbound(Int(identifier)) }
        window.removeValue(forKey: 1)
        window.removeValue(forKey: 3)
        // Identifier 1 comes back for a new message, which goes last; updating 4 keeps its place.
        window[1] = Self.outbound(6)
        window[4]!.released = true
        #expect(Self.topics(window) == ["t/2", "t/4", "t/5", "t/6"])
        #expect(window.map(\.identifier) == [2, 4, 5, 1])
        #expect(window[4]?.released == true)
        #expect(window.count == 4)
        #expect(window.values.map(\.delivery.message.topic) == Self.topics(window))
    }

    @Test func removingFromAnywhereLeavesNoStaleEntriesBehindForLong() {
        var window = InflightWindow()
        var sent = 0
        // A window of 20 where every other acknowledgement comes late: the queue of identifiers stays bounded.
        for round in 0..<10_000 {
            let identifier = UInt16(round % 60_000 + 1)
            window[identifier] = Self.outbound(sent)
            sent += 1
            if window.count > 20 {
                let identifiers = window.map(\.identifier)
                let victim = round % 2 == 0 ? identifiers[0] : identifiers[10]
                window.removeValue(forKey: victim)
            }
        }
        #expect(window.count == 20)
        let sequences = window.map { Int($0.outbound.delivery.message.topic.dropFirst(2))! }
        #expect(sequences == sequences.sorted())
        window.removeAll()
        #expect(window.isEmpty && Array(window).isEmpty)
    }
}
