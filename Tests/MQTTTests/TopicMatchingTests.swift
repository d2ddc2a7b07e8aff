import MQTT
import Testing

/// Matching topic names against filters (4.7.1, 4.7.2), with the specification's own examples.
@Suite struct TopicMatchingTests {
    @Test(arguments: [
        // 4.7.1.2: the multi-level wildcard, including the parent level itself.
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/#", "sport", true),
        ("sport/#", "sports", false),
        ("#", "sport/tennis", true),
        ("#", "/", true),
        ("#", "a", true),
        ("+/#", "a", true),
        // 4.7.1.3: the single-level wildcard matches exactly one level, which may be empty.
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player2", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+/tennis/#", "sport/tennis/player1/ranking", true),
        ("a/+/c", "a//c", true),
        ("a/+/c", "a/b/c/d", false),
        // No wildcard: level by level, case-sensitive, empty levels significant.
        ("a/b", "a/b", true),
        ("a/b", "a/b/c", false),
        ("a/b/c", "a/b", false),
        ("a/b", "A/b", false),
        ("a/b", "a/b/", false),
        ("/a", "a", false),
        ("日本/+", "日本/😀", true),
    ] as [(String, String, Bool)])
    func matching(_ filter: String, _ topic: String, _ matches: Bool) {
        #expect(TopicFilter.matches(filter: filter, topic: topic) == matches)
    }

    /// MQTT-4.7.2-1: a filter starting with a wildcard does not match a topic starting with "$"; a filter that
    /// names the "$" level explicitly does.
    @Test(arguments: [
        ("#", "$SYS/monitor/Clients", false),
        ("+/monitor/Clients", "$SYS/monitor/Clients", false),
        ("+", "$SYS", false),
        ("+/#", "$SYS/broker", false),
        ("#", "$", false),
        ("$SYS/#", "$SYS/monitor/Clients", true),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
        ("$SYS/#", "$SYS", true),
        ("a/#", "a/$SYS", true),
        ("+/$x", "a/$x", true),
    ] as [(String, String, Bool)])
    func topicsStartingWithDollar(_ filter: String, _ topic: String, _ matches: Bool) {
        #expect(TopicFilter.matches(filter: filter, topic: topic) == matches)
    }

    /// A shared subscription matches with the filter after its share name.
    @Test func sharedFiltersMatchOnTheirFilterPart() throws {
        let shared = try TopicFilter("$share/g/sport/#")
        #expect(shared.matches("sport/tennis"))
        #expect(shared.matches("sport"))
        #expect(!shared.matches("g/sport"))
        #expect(!(try TopicFilter("$share/g/#")).matches("$SYS/x"))
    }
}
