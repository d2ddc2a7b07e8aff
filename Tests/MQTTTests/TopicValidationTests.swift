import MQTT
import Testing

/// Topic names and topic filters (4.7) and shared subscription filters (4.8.2).
@Suite struct TopicValidationTests {
    @Test(arguments: [
        "a/+/b", "a/#", "#", "+", "+/+", "+/#", "/", "//", "a//b", "/finance", "sport/tennis/+", "$SYS/#", "a b/c",
        "日本/+/😀",
    ])
    func validFilters(_ filter: String) throws {
        let parsed = try TopicFilter(filter)
        #expect(parsed.filter == filter)
        #expect(parsed.shareName == nil)
        #expect(!parsed.isShared)
    }

    /// MQTT-4.7.1-2: "+" fills a whole level; MQTT-4.7.1-1: "#" fills a whole level and comes last;
    /// MQTT-4.7.3-1: a filter has at least one character.
    @Test(arguments: ["a+/b", "a/b+", "+a", "a/+b/c", "#/a", "a/#/b", "a#", "a/b#", "##", "++", ""])
    func invalidFilters(_ filter: String) {
        let error = #expect(throws: MQTTError.self) { try TopicFilter(filter) }
        #expect(error?.kind == .invalidTopicFilter)
        #expect(error?.reasonCode == .topicFilterInvalid)
    }

    @Test(arguments: [
        ("$share/g/a/#", "g", "a/#"),
        ("$share/g/#", "g", "#"),
        ("$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+"),
        ("$share/g//a", "g", "/a"),
        ("$share/日本/a", "日本", "a"),
    ])
    func validSharedFilters(_ raw: String, _ shareName: String, _ filter: String) throws {
        let parsed = try TopicFilter(raw)
        #expect(parsed.isShared)
        #expect(parsed.shareName == shareName)
        #expect(parsed.filter == filter)
        #expect(parsed.rawValue == raw)
    }

    /// MQTT-4.8.2-1: the share name is at least one character; MQTT-4.8.2-2: it holds no "/", "+" or "#" and is
    /// followed by "/" and a topic filter.
    @Test(arguments: ["$share//a", "$share/g", "$share/g/", "$share/g+/a", "$share/+/a", "$share/g#/a", "$share/#", "$share/g/a+", "$share/g/#/a"])
    func invalidSharedFilters(_ raw: String) {
        let error = #expect(throws: MQTTError.self) { try TopicFilter(raw) }
        #expect(error?.kind == .invalidTopicFilter)
        #expect(error?.reasonCode == .topicFilterInvalid)
    }

    /// Only "$share/" starts a shared subscription: "$share" alone or "$shared/…" are ordinary filters.
    @Test(arguments: ["$share", "$shared/a", "$SHARE/g/a", "a/$share/g/b"])
    func lookalikesAreNotShared(_ raw: String) throws {
        #expect(try TopicFilter(raw).isShared == false)
    }

    /// Topic filters are UTF-8 strings of at most 65,535 bytes (1.5.4); a receiver may set tighter limits on the
    /// length in bytes and the number of levels.
    @Test func filterLengthAndLevelLimits() throws {
        #expect(throws: Never.self) { try TopicFilter(String(repeating: "a", count: 65_535)) }
        #expect(throws: MQTTError(.invalidTopicFilter)) { try TopicFilter(String(repeating: "a", count: 65_536)) }

        let limits = TopicLimits(maximumLength: 8, maximumLevels: 3)
        #expect(throws: Never.self) { try TopicFilter("abcdefgh", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicFilter)) { try TopicFilter("abcdefghi", limits: limits) }
        // Bytes, not characters: three 3-byte characters are 9 bytes.
        #expect(throws: MQTTError(.invalidTopicFilter)) { try TopicFilter("日日日", limits: limits) }
        #expect(throws: Never.self) { try TopicFilter("a/b/+", limits: limits) }
        #expect(throws: Never.self) { try TopicFilter("/a/b", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicFilter)) { try TopicFilter("a/b/c/#", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicFilter)) { try TopicFilter("/a/b/", limits: limits) }
    }

    @Test(arguments: ["a", "a/b", "/", "/a/", "$SYS/broker", "a b", "日本/😀"])
    func validTopicNames(_ name: String) {
        #expect(throws: Never.self) { try TopicName.validate(name) }
    }

    /// MQTT-3.3.2-2 / MQTT-4.7.3-1: topic names hold no wildcard and are not empty.
    @Test(arguments: ["", "+", "#", "a/+", "a/#", "a+", "a/b#"])
    func invalidTopicNames(_ name: String) {
        let error = #expect(throws: MQTTError.self) { try TopicName.validate(name) }
        #expect(error?.kind == .invalidTopicName)
        #expect(error?.reasonCode == .topicNameInvalid)
    }

    @Test func topicNameLengthAndLevelLimits() {
        let limits = TopicLimits(maximumLength: 5, maximumLevels: 2)
        #expect(throws: Never.self) { try TopicName.validate("ab/cd", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicName)) { try TopicName.validate("ab/cde", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicName)) { try TopicName.validate("a/b/c", limits: limits) }
        #expect(throws: MQTTError(.invalidTopicName)) { try TopicName.validate(String(repeating: "a", count: 65_536)) }
    }
}
