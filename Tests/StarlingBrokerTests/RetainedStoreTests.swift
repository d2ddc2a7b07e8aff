import MQTT
import NIOCore
@testable import StarlingBroker
import Testing

/// The retained store on its own: its tree of levels checked against `TopicFilter.matches`, and what deleting
/// leaves behind.
@Suite struct RetainedStoreTests {
    static let topics = [
        "a", "a/b", "a/b/c", "a/x/c", "x/b", "/a", "a/", "/", "//", "$SYS/x", "$SYS", "$SYS/x/y", "b", "a/b/c/d", "caf\u{e9}",
        "cafe\u{301}",
    ]
    static let filters = [
        "a", "a/b", "#", "+", "+/+", "+/#", "a/+", "+/b", "a/+/c", "a/#", "a/b/#", "/#", "+/", "/+", "$SYS/#", "$SYS/+",
        "$SYS", "//", "caf\u{e9}", "+/b/+/#", "a/b/c/d/#",
    ]

    private static func message(_ topic: String, _ payload: String, expiry: NIODeadline? = nil) -> Message {
        Message(topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: true, publisher: "p", expiry: expiry)
    }

    /// Every filter gets exactly the retained topics it matches, `+` and `#` at every position, `$` topics only
    /// by filters that do not begin with a wildcard (MQTT-4.7.2-1), topics that are prefixes of others, empty
    /// levels, and canonically equivalent topics apart (MQTT-4.7.3-4); each with its own payload, in topic order.
    @Test func matchesWhatTheFilterRulesSay() throws {
        var store = RetainedStore()
        for topic in Self.topics { store.retain(Self.message(topic, "payload of " + topic)) }
        #expect(store.count == Self.topics.count)
        for filter in Self.filters {
            let found = store.matching(try TopicFilter(filter), now: .now())
            let expected = Self.topics.filter { TopicFilter.matches(filter: filter, topic: $0) }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            #expect(found.map { Array($0.topic.utf8) } == expected.map { Array($0.utf8) }, "filter \(filter)")
            for message in found {
                #expect(message.payload == ByteBuffer(string: "payload of " + message.topic))
                #expect(message.qos == .atLeastOnce)
                #expect(message.retain)
                #expect(message.publisher == "p")
            }
        }
    }

    /// Replacing keeps one message per topic and counts bytes once; deleting every topic, in an order that
    /// removes parents before and after their children, leaves nothing behind.
    @Test func replacingAndDeletingLeaveNothingBehind() throws {
        var store = RetainedStore()
        for topic in Self.topics { store.retain(Self.message(topic, "one")) }
        for topic in Self.topics { store.retain(Self.message(topic, "second")) }
        #expect(store.count == Self.topics.count)
        #expect(store.bytes == 6 * Self.topics.count)
        let everything = try TopicFilter("#")
        let replaced = store.matching(everything, now: .now())
        #expect(replaced.allSatisfy { $0.payload == ByteBuffer(string: "second") })
        for (index, topic) in Self.topics.enumerated() where index % 2 == 0 { store.retain(Self.message(topic, "")) }
        #expect(store.count == Self.topics.count / 2)
        let left = Self.topics.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let kept = store.matching(everything, now: .now())
        #expect(Set(kept.map { Array($0.topic.utf8) }) == Set(left.filter { !$0.hasPrefix("$") }.map { Array($0.utf8) }))
        for topic in left {
            let found = store.matching(try TopicFilter(topic), now: .now())
            #expect(found.count == 1)
        }
        for topic in left.reversed() { store.retain(Self.message(topic, "")) }
        #expect(store.count == 0)
        #expect(store.bytes == 0)
        for filter in Self.filters {
            let found = store.matching(try TopicFilter(filter), now: .now())
            #expect(found.isEmpty)
        }
        // A deleted parent's child is still there, and the other way round.
        store.retain(Self.message("p", "1"))
        store.retain(Self.message("p/q", "2"))
        store.retain(Self.message("p", ""))
        let child = store.matching(try TopicFilter("p/#"), now: .now())
        #expect(child.map(\.topic) == ["p/q"])
        store.retain(Self.message("p", "1"))
        store.retain(Self.message("p/q", ""))
        let parent = store.matching(try TopicFilter("p/#"), now: .now())
        #expect(parent.map(\.topic) == ["p"])
        let below = store.matching(try TopicFilter("p/+"), now: .now())
        #expect(below.isEmpty)
    }

    /// An expired message is dropped when a subscription finds it; the limits refuse a new topic beyond them
    /// but let an existing one be replaced.
    @Test func expiryAndLimits() throws {
        var store = RetainedStore()
        let now = NIODeadline.now()
        store.retain(Self.message("e/old", "x", expiry: now - .seconds(1)))
        store.retain(Self.message("e/new", "y", expiry: now + .seconds(60)))
        let unexpired = store.matching(try TopicFilter("e/#"), now: now)
        #expect(unexpired.map(\.topic) == ["e/new"])
        #expect(store.count == 1)
        var limits = BrokerConfiguration.Limits()
        limits.maximumRetainedMessages = 2
        let first = store.retain(Self.message("f", "1"), limits: limits)
        let beyond = store.retain(Self.message("g", "1"), limits: limits)
        let replacing = store.retain(Self.message("f", "22"), limits: limits)
        #expect(first && !beyond && replacing)
        #expect(store.count == 2)
    }

    /// A small payload read in a large buffer is copied out of it: the store does not keep the buffer.
    @Test func aRetainedPayloadDoesNotKeepItsReadBuffer() {
        var store = RetainedStore()
        var buffer = ByteBufferAllocator().buffer(capacity: 65_536)
        buffer.writeString("0123456789")
        store.retain(Message(topic: "t", payload: buffer.getSlice(at: 2, length: 3)!, retain: true))
        buffer.setString("abcdefghij", at: 0)
        let found = store.matching(try! TopicFilter("t"), now: .now())
        #expect(found.first?.payload == ByteBuffer(string: "234"))
        #expect(found.first.map { $0.payload.storageCapacity < 1_024 } == true)
    }
}
