import MQTT
@testable import StarlingBridge
import Testing

/// Mosquitto's `topic PATTERN DIRECTION QOS LOCAL_PREFIX REMOTE_PREFIX`, as plain values.
@Suite struct BridgeTopicRuleTests {
    @Test func prefixesAreSwappedAndTheRestKept() {
        let out = BridgeTopicRule(pattern: "sensors/#", direction: .out, qos: .atLeastOnce, localPrefix: "", remotePrefix: "site-1/")
        #expect(out.localFilter == "sensors/#")
        #expect(out.remoteFilter == "site-1/sensors/#")
        #expect(out.remoteTopic(forLocal: "sensors/t/1") == "site-1/sensors/t/1")
        #expect(out.remoteTopic(forLocal: "other/t") == nil)
        #expect(out.localTopic(forRemote: "site-1/sensors/t") == nil)

        let back = BridgeTopicRule(pattern: "commands/+", direction: .in, localPrefix: "edge/", remotePrefix: "site-1/")
        #expect(back.localTopic(forRemote: "site-1/commands/reboot") == "edge/commands/reboot")
        #expect(back.localTopic(forRemote: "site-2/commands/reboot") == nil)
        #expect(back.localTopic(forRemote: "site-1/commands/a/b") == nil)
        #expect(back.remoteTopic(forLocal: "edge/commands/reboot") == nil)

        let both = BridgeTopicRule(pattern: "t/#", direction: .both)
        #expect(both.remoteTopic(forLocal: "t/x") == "t/x")
        #expect(both.localTopic(forRemote: "t/x") == "t/x")
    }

    @Test func invalidPrefixedFiltersAreRefused() {
        #expect(throws: MQTTError.self) { try BridgeTopicRule(pattern: "a/#", direction: .out, localPrefix: "x#/").validate() }
        #expect(throws: MQTTError.self) { try BridgeTopicRule(pattern: "#/a", direction: .in).validate() }
        #expect(throws: Never.self) { try BridgeTopicRule(pattern: "a/+/b", direction: .both, localPrefix: "l/", remotePrefix: "r/").validate() }
    }

    @Test func theEchoOfAMessageSentOutIsRecognisedOnce() {
        var echoes = EchoGuard(capacity: 2)
        echoes.sent(topic: "t", payload: .init(string: "a"))
        let echoa = echoes.isEcho(topic: "t", payload: .init(string: "a"))
        #expect(echoa)
        let echoaAgain = echoes.isEcho(topic: "t", payload: .init(string: "a"))
        #expect(!echoaAgain)
        echoes.sent(topic: "t", payload: .init(string: "1"))
        echoes.sent(topic: "t", payload: .init(string: "2"))
        echoes.sent(topic: "t", payload: .init(string: "3"))
        // The oldest is forgotten beyond the capacity.
        let echo1Again = echoes.isEcho(topic: "t", payload: .init(string: "1"))
        #expect(!echo1Again)
        let echo3 = echoes.isEcho(topic: "t", payload: .init(string: "3"))
        #expect(echo3)
    }
}
