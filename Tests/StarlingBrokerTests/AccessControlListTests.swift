import StarlingBroker
import Testing

/// The ACL file format of Mosquitto's `acl_file` and how its rules are evaluated, without a broker.
@Suite struct AccessControlListTests {
    static let example = """
        # anonymous clients
        topic read public/#

        user alice
        topic readwrite alice/#
        topic deny alice/secret/#
        topic  write   reports/alice

        user bob
        topic bob/#

        client sensor-17
        topic write sensors/17/#

        pattern readwrite devices/%u/#
        pattern read status/%c
        pattern write $SYS/clients/%c
        """

    @Test func sectionsAndAccessesAreParsed() throws {
        let list = try AccessControlList(contents: Self.example)
        #expect(list.anonymous == [.init(.read, "public/#")])
        #expect(list.users["alice"] == [.init(.readwrite, "alice/#"), .init(.deny, "alice/secret/#"), .init(.write, "reports/alice")])
        // No access word means readwrite, as in Mosquitto.
        #expect(list.users["bob"] == [.init(.readwrite, "bob/#")])
        #expect(list.clients["sensor-17"] == [.init(.write, "sensors/17/#")])
        #expect(list.patterns.count == 3)
    }

    @Test func anonymousRulesApplyOnlyWithoutAUserName() throws {
        let list = try AccessControlList(contents: Self.example)
        let anonymous = list.rules(userName: nil, clientIdentifier: "x")
        #expect(anonymous.mayReceive("public/news"))
        #expect(!anonymous.mayPublish("public/news"))
        #expect(!anonymous.mayReceive("alice/x"))
        let alice = list.rules(userName: "alice", clientIdentifier: "x")
        #expect(!alice.mayReceive("public/news"))
        #expect(alice.mayPublish("alice/x"))
        #expect(alice.mayPublish("reports/alice"))
        #expect(!alice.mayReceive("reports/alice"))
        // An unknown user has only the patterns.
        let carol = list.rules(userName: "carol", clientIdentifier: "x")
        #expect(!carol.mayReceive("alice/x"))
        #expect(carol.mayPublish("devices/carol/t"))
    }

    @Test func denyWinsOverAllow() throws {
        let alice = try AccessControlList(contents: Self.example).rules(userName: "alice", clientIdentifier: "c")
        #expect(alice.mayReceive("alice/public"))
        #expect(!alice.mayReceive("alice/secret/plans"))
        #expect(!alice.mayPublish("alice/secret"))
        #expect(alice.maySubscribe("alice/#"))
        #expect(!alice.maySubscribe("alice/secret/+"))
    }

    @Test func patternsSubstituteUserNameAndClientIdentifier() throws {
        let list = try AccessControlList(contents: Self.example)
        let bob = list.rules(userName: "bob", clientIdentifier: "bob-phone")
        #expect(bob.mayPublish("devices/bob/lamp"))
        #expect(!bob.mayPublish("devices/alice/lamp"))
        #expect(bob.mayReceive("status/bob-phone"))
        #expect(!bob.mayReceive("status/other"))
        #expect(bob.mayPublish("$SYS/clients/bob-phone"))
        // Without a user name a %u pattern does not apply at all.
        #expect(!list.rules(userName: nil, clientIdentifier: "c").mayPublish("devices//lamp"))
    }

    @Test(arguments: ["+", "#", "a/b"])
    func namesWithWildcardsOrSeparatorsDoNotWidenPatterns(name: String) throws {
        let list = try AccessControlList(contents: "pattern readwrite devices/%u/#\npattern read status/%c")
        let rules = list.rules(userName: name, clientIdentifier: name)
        #expect(!rules.mayPublish("devices/other/lamp"))
        #expect(!rules.maySubscribe("devices/#"))
        #expect(!rules.mayReceive("status/other"))
        #expect(!rules.mayReceive("status/a/b"))
    }

    /// `%u` and `%c` are filled in one pass: a user named `%c` gets the literal level `%c`, not the
    /// client identifier it picked (which would be anyone's subtree), and the reverse.
    @Test func aSubstitutedValueIsNeverSubstitutedAgain() throws {
        let list = try AccessControlList(contents: "pattern readwrite devices/%u/#\npattern read status/%c/%u")
        let mallory = list.rules(userName: "%c", clientIdentifier: "alice")
        #expect(!mallory.maySubscribe("devices/alice/#"))
        #expect(!mallory.mayPublish("devices/alice/lamp"))
        #expect(!mallory.mayReceive("devices/alice/lamp"))
        #expect(mallory.mayPublish("devices/%c/lamp"))
        let reverse = list.rules(userName: "alice", clientIdentifier: "%u")
        #expect(!reverse.mayReceive("status/alice/alice"))
        #expect(reverse.mayReceive("status/%u/alice"))
    }

    @Test func clientSectionsApplyByClientIdentifier() throws {
        let list = try AccessControlList(contents: Self.example)
        #expect(list.rules(userName: nil, clientIdentifier: "sensor-17").mayPublish("sensors/17/temperature"))
        #expect(!list.rules(userName: nil, clientIdentifier: "sensor-18").mayPublish("sensors/17/temperature"))
    }

    /// A subscription is allowed when a read rule covers every topic its filter can match.
    @Test(arguments: [
        ("devices/alice/#", "devices/alice/#", true),
        ("devices/alice/#", "devices/alice/+/temperature", true),
        ("devices/alice/#", "devices/alice", true),
        ("devices/alice/#", "devices/#", false),
        ("devices/alice/#", "devices/+/temperature", false),
        ("devices/+/temperature", "devices/alice/temperature", true),
        ("devices/+/temperature", "devices/+/temperature", true),
        ("devices/+/temperature", "devices/#", false),
        ("devices/alice", "devices/alice/x", false),
        ("#", "anything/at/all", true),
        ("#", "$SYS/broker/load", false),
        ("+/x", "$SYS/x", false),
        ("$SYS/#", "$SYS/broker/+", true),
    ])
    func filterCoverage(pattern: String, filter: String, covered: Bool) throws {
        let rules = try AccessControlList(contents: "topic read \(pattern)").rules(userName: nil, clientIdentifier: "c")
        #expect(rules.maySubscribe(filter) == covered)
    }

    /// A `#` rule never reaches `$SYS` topics (MQTT-4.7.2-1): they need a rule of their own.
    @Test func everythingDoesNotIncludeSys() throws {
        let rules = try AccessControlList(contents: "topic readwrite #").rules(userName: nil, clientIdentifier: "c")
        #expect(rules.mayReceive("a/b"))
        #expect(!rules.mayReceive("$SYS/broker/uptime"))
        #expect(!rules.maySubscribe("$SYS/#"))
    }

    @Test(arguments: [
        ("topic read a/#\nfrobnicate x", 2, "unknown keyword"),
        ("user", 1, "without a name"),
        ("topic   ", 1, "without a topic"),
        ("\n\ntopic read a/#/b", 3, "not a valid topic filter"),
        ("user alice\ntopic deny", 2, "without a topic"),
        ("topic read a/#\ntopic read  ", 2, "without a topic"),
        ("topic write", 1, "without a topic"),
        ("pattern deny", 1, "without a topic"),
    ])
    func invalidLinesAreReportedWithTheirNumber(contents: String, line: Int, reason: String) {
        #expect {
            try AccessControlList(contents: contents)
        } throws: { error in
            guard let error = error as? ConfigurationFileError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }
}
