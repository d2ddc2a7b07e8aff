import MQTT
@testable import StarlingBroker
import Testing

/// The topic tree on its own: wildcard-free filters in the table, the others in the tree of levels, checked
/// against `TopicFilter.matches`, and what removing the last subscription leaves.
@Suite struct TopicTreeTests {
    static let filters = [
        "a", "a/b", "a/b/c", "/a", "a/", "/", "//", "$SYS/x", "$SYS",
        "+", "#", "+/+", "+/#", "a/+", "+/b", "a/+/c", "+/b/+", "a/#", "a/b/#", "/#", "+/", "/+", "$SYS/#", "$SYS/+",
    ]
    static let topics = ["a", "a/b", "a/b/c", "a/x/c", "x/b", "x/b/y", "/a", "a/", "/", "//", "$SYS/x", "$SYS", "$SYS/x/y", "b", "a/b/c/d"]

    /// Every filter, each by a session of its own: each topic reaches exactly the filters `TopicFilter.matches`
    /// says it matches, `+` and `#` at the first, a middle and the last level, and `$` topics only by filters that
    /// do not begin with a wildcard (MQTT-4.7.2-1).
    @Test func matchesWhatTheFilterRulesSay() throws {
        var tree = TopicTree()
        var sessions: [ObjectIdentifier: String] = [:]
        for filter in Self.filters {
            let session = Session(clientIdentifier: filter, homeIndex: 0)
            sessions[ObjectIdentifier(session)] = filter
            tree.insert(try TopicFilter(filter), TopicTree.Subscriber(session: session, options: SubscriptionOptions()))
        }
        #expect(tree.count == Self.filters.count)
        for topic in Self.topics {
            var matches: [TopicTree.Subscriber] = []
            tree.match(topic, publisher: nil, into: &matches)
            let matched = Set(matches.map { $0.session.clientIdentifier })
            let expected = Set(Self.filters.filter { TopicFilter.matches(filter: $0, topic: topic) })
            #expect(matched == expected, "topic \(topic)")
            #expect(matches.count == matched.count, "topic \(topic): a filter matched twice")
        }
    }

    /// Removing every subscription leaves neither a table entry nor a level behind, so that churn cannot grow it.
    @Test func removingTheLastSubscriptionFreesItsEntry() throws {
        var tree = TopicTree()
        let first = Session(clientIdentifier: "first", homeIndex: 0)
        let second = Session(clientIdentifier: "second", homeIndex: 0)
        let filters = try (Self.filters + ["$share/g/a/b", "$share/g/a/+", "$share/h/#"]).map { try TopicFilter($0) }
        for filter in filters {
            tree.insert(filter, TopicTree.Subscriber(session: first, options: SubscriptionOptions()))
            tree.insert(filter, TopicTree.Subscriber(session: second, options: SubscriptionOptions()))
        }
        #expect(tree.count == 2 * filters.count)
        for filter in filters {
            let removed = tree.remove(filter, session: first)
            #expect(removed)
        }
        #expect(tree.count == filters.count)
        #expect(!tree.isEmpty)
        for filter in filters {
            let removed = tree.remove(filter, session: second)
            let again = tree.remove(filter, session: second)
            #expect(removed && !again)
        }
        #expect(tree.count == 0)
        #expect(tree.exactFilterCount == 0)
        #expect(tree.isEmpty)
    }

    /// Many sessions on one filter: subscribing again replaces the options, each removal takes exactly its own
    /// session, in any order, past the point where the filter indexes its subscribers.
    @Test(arguments: ["m/x", "m/+"])
    func manySubscribersOnOneFilter(filter: String) throws {
        var tree = TopicTree()
        let filter = try TopicFilter(filter)
        let sessions = (0..<40).map { Session(clientIdentifier: "s\($0)", homeIndex: 0) }
        for session in sessions { tree.insert(filter, TopicTree.Subscriber(session: session, options: SubscriptionOptions(qos: .atMostOnce))) }
        for session in sessions where session.clientIdentifier.hasSuffix("7") {
            tree.insert(filter, TopicTree.Subscriber(session: session, options: SubscriptionOptions(qos: .exactlyOnce), identifier: 7))
        }
        #expect(tree.count == 40)
        var remaining = Set(sessions.map { ObjectIdentifier($0) })
        for index in [0, 39, 20, 1, 2, 3, 38, 17, 5, 30, 31, 32, 33, 34, 35, 36, 37] {
            let done = tree.remove(filter, session: sessions[index])
            #expect(done)
            remaining.remove(ObjectIdentifier(sessions[index]))
            var matches: [TopicTree.Subscriber] = []
            tree.match("m/x", publisher: nil, into: &matches)
            #expect(Set(matches.map { ObjectIdentifier($0.session) }) == remaining)
            #expect(matches.count == remaining.count)
            for match in matches {
                let seven = match.session.clientIdentifier.hasSuffix("7")
                #expect(match.options.qos == (seven ? .exactlyOnce : .atMostOnce))
                #expect(match.identifier == (seven ? 7 : nil))
            }
        }
        #expect(tree.count == remaining.count)
    }

    /// A shared subscription's group hands each message to one member, carrying the share; an ordinary
    /// subscription to the same filter gets its own copy.
    @Test(arguments: ["$share/g/q/x", "$share/g/q/+"])
    func aSharedGroupGivesOneMember(share: String) throws {
        var tree = TopicTree()
        let share = try TopicFilter(share)
        let members = (0..<3).map { Session(clientIdentifier: "m\($0)", homeIndex: 0) }
        let ordinary = Session(clientIdentifier: "o", homeIndex: 0)
        for member in members { tree.insert(share, TopicTree.Subscriber(session: member, options: SubscriptionOptions())) }
        tree.insert(try TopicFilter("q/x"), TopicTree.Subscriber(session: ordinary, options: SubscriptionOptions()))
        var chosen: Set<String> = []
        for _ in 0..<3 {
            var matches: [TopicTree.Subscriber] = []
            #expect(tree.match("q/x", publisher: nil, into: &matches))
            #expect(matches.count == 2)
            #expect(matches.filter { $0.share == nil }.map(\.session.clientIdentifier) == ["o"])
            let shared = matches.filter { $0.share == share }
            #expect(shared.count == 1)
            chosen.formUnion(shared.map(\.session.clientIdentifier))
        }
        // Round robin: three messages, three members.
        #expect(chosen == ["m0", "m1", "m2"])
        #expect(tree.sharedMember(of: share, publisher: nil) != nil)
        for member in members {
            let removed = tree.remove(share, session: member)
            #expect(removed)
        }
        #expect(tree.sharedMember(of: share, publisher: nil) == nil)
        var matches: [TopicTree.Subscriber] = []
        tree.match("q/x", publisher: nil, into: &matches)
        #expect(matches.map(\.session.clientIdentifier) == ["o"])
    }

    /// The options and the identifier survive packing into one word, the largest identifier included.
    @Test func packedSubscriptionsKeepOptionsAndIdentifier() {
        for qos in [QoS.atMostOnce, .atLeastOnce, .exactlyOnce] {
            for handling in SubscriptionOptions.RetainHandling.allCases {
                for (noLocal, retainAsPublished) in [(false, false), (true, false), (false, true), (true, true)] {
                    for identifier in [nil, 1, 300, 268_435_455] {
                        let options = SubscriptionOptions(qos: qos, noLocal: noLocal, retainAsPublished: retainAsPublished, retainHandling: handling)
                        let packed = PackedSubscription(options: options, identifier: identifier)
                        #expect(packed.options == options)
                        #expect(packed.identifier == identifier)
                    }
                }
            }
        }
    }

    /// A filter given back from a session's key splits as the validating initialiser does.
    @Test(arguments: ["a/b", "$share/g/a/+", "$share/g//", "$sharex/a", "#"])
    func validatedFiltersSplitAsParsedOnes(raw: String) throws {
        let parsed = try TopicFilter(raw)
        let validated = TopicFilter(validated: raw)
        #expect(validated == parsed)
        #expect(validated.shareName == parsed.shareName)
        #expect(validated.filter == parsed.filter)
    }
}
