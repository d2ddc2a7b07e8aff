import MQTT
import NIOCore
import Testing

/// The one table of outgoing Topic Aliases, used by the broker towards its clients and by the client towards
/// the broker.
@Suite struct OutgoingTopicAliasesTests {
    @Test func aliasesAreGivenUpToTheCapacityThenTheLeastRecentlyUsedGoesToATopicThatMissedTwice() {
        let aliases = OutgoingTopicAliases(capacity: 2)
        #expect(aliases.resolve("a") == .assign(1))
        aliases.commit("a", alias: 1)
        #expect(aliases.resolve("b") == .assign(2))
        aliases.commit("b", alias: 2)
        #expect(aliases.resolve("a") == .known(1))
        // Full: "c" is sent in full once, and takes the least recently used alias, b's, when it comes again.
        #expect(aliases.resolve("c") == .topicOnly)
        #expect(aliases.resolve("c") == .assign(2))
        aliases.commit("c", alias: 2)
        #expect(aliases.resolve("c") == .known(2))
        #expect(aliases.resolve("b") == .topicOnly)
        #expect(aliases.count == 2)
    }

    @Test func canonicallyEquivalentTopicsAreDifferentTopics() {
        let aliases = OutgoingTopicAliases(capacity: 4)
        aliases.commit("caf\u{E9}", alias: 1)
        #expect(aliases.resolve("cafe\u{301}") == .assign(2))
    }

    @Test func aResolutionAppliesToThePacket() {
        let packet = PublishPacket(topic: "long/topic", payload: ByteBuffer(string: "x"))
        #expect(OutgoingTopicAliases.Resolution.topicOnly.apply(to: packet) == packet)
        let assigned = OutgoingTopicAliases.Resolution.assign(3).apply(to: packet)
        #expect(assigned.topic == "long/topic" && assigned.properties.topicAlias == 3)
        let known = OutgoingTopicAliases.Resolution.known(3).apply(to: packet)
        #expect(known.topic == "" && known.properties.topicAlias == 3)
    }
}
