import Foundation
import MQTT
import NIOCore
import StarlingBroker
import StarlingOperations
import StarlingTesting
import Testing

/// `/api/v1/retained` and `POST /api/v1/publish`.
@Suite struct AdminRetainedAndPublishTests {
    @Test func retainedMessagesAreListedShownAndRemoved() async throws {
        try await OperationsHarness.with { operations in
            let publisher = try await operations.broker.client("publisher", version: .v5)
            _ = try await publisher.publishQoS1("plant/1/state", "running", retain: true)
            _ = try await publisher.publishQoS1("plant/2/state", "stopped", packetIdentifier: 2, retain: true)

            let listed = try await operations.request("/api/v1/retained?pattern=plant%2F%2B%2Fstate").json
            #expect(listed["total"] as? Int == 2)
            let first = try #require((listed["messages"] as? [[String: Any]])?.first)
            #expect(first["topic"] as? String == "plant/1/state")
            #expect(first["payload"] as? String == "running")
            #expect(first["payloadBase64"] as? String == Data("running".utf8).base64EncodedString())

            // A slash in the topic may come encoded or as it is.
            #expect(try await operations.request("/api/v1/retained/plant%2F1%2Fstate").json["payload"] as? String == "running")
            #expect(try await operations.request("/api/v1/retained/plant/2/state").json["payload"] as? String == "stopped")
            #expect(try await operations.request("/api/v1/retained/plant/3/state").status == .notFound)
            #expect(try await operations.request("/api/v1/retained?pattern=plant%2F%23%2Fx").status == .badRequest)
            #expect(try await operations.request("/api/v1/retained/plant%2F%2B").status == .badRequest)
            #expect(try await operations.request("/api/v1/retained/plant%00").status == .badRequest)
            #expect(try await operations.request("/api/v1/retained?pattern=plant%00%2F%23").status == .badRequest)

            let removed = try await operations.request(.DELETE, "/api/v1/retained/plant%2F1%2Fstate")
            #expect(removed.status == .noContent)
            #expect(try await operations.request(.DELETE, "/api/v1/retained/plant%2F1%2Fstate").status == .notFound)
            // Gone for a new subscriber too; the other one stays.
            let subscriber = try await operations.broker.client("late", version: .v5)
            _ = try await subscriber.subscribe("plant/#", qos: .atLeastOnce)
            let delivered = try await subscriber.expectPublish()
            #expect(delivered.topic == "plant/2/state")
            #expect(try await operations.request("/api/v1/retained?pattern=plant%2F%23").json["total"] as? Int == 1)
        }
    }

    @Test func aPublishedMessageReachesSubscribersWithItsProperties() async throws {
        try await OperationsHarness.with { operations in
            let subscriber = try await operations.broker.client("listener", version: .v5)
            _ = try await subscriber.subscribe("commands/#", qos: .atLeastOnce)
            let body = """
                {"topic": "commands/reboot", "payload": "now", "qos": 1, "properties": {"contentType": "text/plain",
                 "responseTopic": "replies/1", "correlationData": "AQI=", "userProperties": [{"name": "by", "value": "ops"}]}}
                """
            let answer = try await operations.request(.POST, "/api/v1/publish", body: body)
            #expect(answer.status == .ok)
            #expect(try answer.json["payloadSize"] as? Int == 3)
            let delivered = try await subscriber.expectPublish()
            #expect(delivered.topic == "commands/reboot")
            #expect(delivered.payloadString == "now")
            #expect(delivered.qos == .atLeastOnce)
            #expect(delivered.properties.contentType == "text/plain")
            #expect(delivered.properties.responseTopic == "replies/1")
            #expect(delivered.properties.correlationData == ByteBuffer(bytes: [1, 2]))
            #expect(delivered.properties.userProperties.map { "\($0.key)=\($0.value)" } == ["by=ops"])

            let binary = try await operations.request(.POST, "/api/v1/publish", body: #"{"topic": "commands/raw", "payloadBase64": "AAEC", "retain": true}"#)
            #expect(binary.status == .ok)
            let raw = try await subscriber.expectPublish()
            #expect(raw.payload == ByteBuffer(bytes: [0, 1, 2]))
            #expect(try await operations.request("/api/v1/retained/commands%2Fraw").json["payloadBase64"] as? String == "AAEC")
        }
    }

    /// Bad input gets 400 or 413 with a message, never a crash, and publishes nothing.
    @Test(arguments: [
        #"{"topic": "a/+"}"#, #"{"topic": ""}"#, #"{"payload": "x"}"#, #"{"topic": "a", "qos": 3}"#,
        #"{"topic": "a", "payload": "x", "payloadBase64": "eA=="}"#, #"{"topic": "a", "payloadBase64": "!!"}"#,
        #"{"topic": "a", "colour": "red"}"#, #"{"topic": "a", "properties": {"messageExpiryInterval": -1}}"#,
        #"{"topic": "a", "properties": {"shade": 1}}"#, #"{"topic": "a", "retain": "yes"}"#, "not json", "[]",
        #"{"topic": "a", "payloadBase64": "eA==", "properties": {"payloadFormatIndicator": 1}}"#, #"{"topic": "a", "properties": null}"#, #"{"topic": "a\u0000b"}"#,
        #"{"topic": "a", "properties": {"userProperties": [{"name": "k\u0000", "value": "v"}]}}"#,
    ])
    func badPublishRequestsAreRefused(body: String) async throws {
        try await OperationsHarness.with { operations in
            let answer = try await operations.request(.POST, "/api/v1/publish", body: body)
            #expect(answer.status == .badRequest)
            #expect(try answer.json["error"] is String)
            #expect(try await operations.broker.broker.statistics().retainedMessages == 0)
        }
    }

    @Test func anOversizeBodyGets413() async throws {
        try await OperationsHarness.with(configuration: OperationsConfiguration(port: 0, maximumBodyBytes: 1_024)) { operations in
            let body = #"{"topic": "a", "payload": ""# + String(repeating: "x", count: 2_048) + #""}"#
            let answer = try await operations.request(.POST, "/api/v1/publish", body: body)
            #expect(answer.status == .payloadTooLarge)
            #expect(try answer.json["error"] is String)
        }
    }
}
