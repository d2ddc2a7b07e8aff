import MQTT
import NIOCore
import StarlingBridge
import StarlingBroker
import StarlingTestSupport
import StarlingTesting
import Testing

/// A bridge between two Starlings: out, in and both, prefixes, QoS, retained flags and properties.
@Suite(.timeLimit(.minutes(2))) struct BridgeForwardingTests {
    @Test(arguments: [ProtocolVersion.v5, .v3_1_1])
    func localMessagesGoOutWithThePrefixesApplied(version: ProtocolVersion) async throws {
        try await TestBroker.with { remote in
            try await TestBroker.with { local in
                let bridge = try BridgeHarness.bridge(local: local, remote: remote.url, version: version, topics: [
                    BridgeTopicRule(pattern: "sensors/#", direction: .out, qos: .atLeastOnce, remotePrefix: "site-1/")
                ])
                let cloud = try await remote.client("cloud-app", version: .v5)
                _ = try await cloud.subscribe("site-1/#", qos: .exactlyOnce)
                try await BridgeHarness.run(bridge, local: local) {
                    let device = try await local.client("device", version: .v5)
                    _ = try await device.publishQoS1("sensors/t/1", "21.5")
                    try await device.publish("sensors/t/2", "at most once", properties: [.userProperty("unit", "C"), .contentType("text/plain")])
                    try await device.publish("elsewhere", "not bridged")
                    let first = try await cloud.expectPublish()
                    #expect(first.topic == "site-1/sensors/t/1")
                    #expect(first.payloadString == "21.5")
                    #expect(first.qos == .atLeastOnce)
                    let second = try await cloud.expectPublish()
                    #expect(second.topic == "site-1/sensors/t/2")
                    #expect(second.qos == .atMostOnce)
                    if version == .v5 {
                        #expect(second.properties.userProperties.map { "\($0.key)=\($0.value)" } == ["unit=C"])
                        #expect(second.properties.contentType == "text/plain")
                    }
                    // A retained message keeps its flag at the remote.
                    _ = try await device.publishQoS1("sensors/state", "on", packetIdentifier: 2, retain: true)
                    #expect(try await cloud.expectPublish().topic == "site-1/sensors/state")
                    let late = try await remote.client("late", version: .v5)
                    _ = try await late.subscribe("site-1/sensors/state", qos: .atLeastOnce)
                    let retained = try await late.expectPublish()
                    #expect(retained.retain)
                    #expect(retained.payloadString == "on")
                }
            }
        }
    }

    @Test(arguments: [ProtocolVersion.v5, .v3_1_1])
    func remoteMessagesComeInWithThePrefixesApplied(version: ProtocolVersion) async throws {
        try await TestBroker.with { remote in
            try await TestBroker.with { local in
                let bridge = try BridgeHarness.bridge(local: local, remote: remote.url, version: version, topics: [
                    BridgeTopicRule(pattern: "commands/#", direction: .in, qos: .atLeastOnce, localPrefix: "cloud/", remotePrefix: "site-1/")
                ])
                let device = try await local.client("device", version: .v5)
                _ = try await device.subscribe("cloud/#", qos: .atLeastOnce)
                try await BridgeHarness.run(bridge, local: local) {
                    let cloud = try await remote.client("cloud-app", version: .v5)
                    _ = try await cloud.publishQoS1("site-1/commands/reboot", "now")
                    _ = try await cloud.publishQoS1("site-2/commands/reboot", "not ours", packetIdentifier: 2)
                    _ = try await cloud.publishQoS1("site-1/commands/stop", "later", packetIdentifier: 3)
                    let first = try await device.expectPublish()
                    #expect(first.topic == "cloud/commands/reboot")
                    #expect(first.payloadString == "now")
                    #expect(first.qos == .atLeastOnce)
                    #expect(try await device.expectPublish().topic == "cloud/commands/stop")
                }
            }
        }
    }

    /// A `both` rule: what goes out is not brought back in, and what comes in is not sent back out.
    @Test(arguments: [ProtocolVersion.v5, .v3_1_1])
    func bothDirectionsWithoutLoops(version: ProtocolVersion) async throws {
        try await TestBroker.with { remote in
            try await TestBroker.with { local in
                let bridge = try BridgeHarness.bridge(local: local, remote: remote.url, version: version, topics: [
                    BridgeTopicRule(pattern: "shared/#", direction: .both, qos: .atLeastOnce)
                ])
                let here = try await local.client("here", version: .v5)
                _ = try await here.subscribe("shared/#", qos: .atLeastOnce)
                let there = try await remote.client("there", version: .v5)
                _ = try await there.subscribe("shared/#", qos: .atLeastOnce)
                let hereSender = try await local.client("here-sender", version: .v5)
                let thereSender = try await remote.client("there-sender", version: .v5)
                try await BridgeHarness.run(bridge, local: local) {
                    _ = try await hereSender.publishQoS1("shared/from-here", "1")
                    _ = try await thereSender.publishQoS1("shared/from-there", "2")
                    // Each side sees its own message once and the other's once; markers show nothing more follows.
                    var seenHere: [String] = []
                    var seenThere: [String] = []
                    _ = try await hereSender.publishQoS1("shared/marker-here", "m", packetIdentifier: 2)
                    _ = try await thereSender.publishQoS1("shared/marker-there", "m", packetIdentifier: 2)
                    while seenHere.filter({ $0.hasPrefix("shared/marker") }).count < 2 { seenHere.append(try await here.expectPublish().topic) }
                    while seenThere.filter({ $0.hasPrefix("shared/marker") }).count < 2 { seenThere.append(try await there.expectPublish().topic) }
                    // Anything looping would come again before a second round of markers.
                    _ = try await hereSender.publishQoS1("shared/end", "e", packetIdentifier: 3)
                    while seenHere.last != "shared/end" { seenHere.append(try await here.expectPublish().topic) }
                    while seenThere.last != "shared/end" { seenThere.append(try await there.expectPublish().topic) }
                    for seen in [seenHere, seenThere] {
                        let counts = Dictionary(seen.map { ($0, 1) }, uniquingKeysWith: +)
                        #expect(counts == [
                            "shared/from-here": 1, "shared/from-there": 1, "shared/marker-here": 1, "shared/marker-there": 1,
                            "shared/end": 1,
                        ])
                    }
                }
            }
        }
    }
}
