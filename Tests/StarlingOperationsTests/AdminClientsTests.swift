import Foundation
import MQTT
import NIOCore
import StarlingBroker
import StarlingOperations
import StarlingTesting
import Testing

/// `/api/v1/clients`, `/subscriptions` and `/topics`.
@Suite struct AdminClientsTests {
    @Test func aConnectedClientIsListedWithWhatItIs() async throws {
        try await OperationsHarness.with { operations in
            let client = try await operations.broker.client("sensor-1", version: .v5, properties: [.sessionExpiryInterval(600)])
            _ = try await client.subscribe("site/+/temp", qos: .atLeastOnce, subscriptionIdentifier: 7)
            _ = try await operations.broker.client("other", version: .v3_1_1)

            let page = try await operations.request("/api/v1/clients?prefix=sensor")
            #expect(page.status == .ok)
            let json = try page.json
            #expect(json["total"] as? Int == 1)
            let listed = try #require((json["clients"] as? [[String: Any]])?.first)
            #expect(listed["clientId"] as? String == "sensor-1")
            #expect(listed["connected"] as? Bool == true)
            #expect(listed["protocolVersion"] as? String == "5.0")
            #expect(listed["sessionExpiry"] as? Int == 600)
            #expect(listed["subscriptions"] as? Int == 1)
            #expect((listed["address"] as? String)?.hasPrefix("127.0.0.1:") == true)
            let since = try #require(listed["connectedSince"] as? Double)
            #expect(abs(since - Date().timeIntervalSince1970) < 120)

            let detail = try await operations.request("/api/v1/clients/sensor-1").json
            let subscriptions = try #require(detail["subscriptionList"] as? [[String: Any]])
            #expect(subscriptions.count == 1)
            #expect(subscriptions.first?["filter"] as? String == "site/+/temp")
            #expect(subscriptions.first?["qos"] as? Int == 1)
            #expect(subscriptions.first?["subscriptionIdentifier"] as? Int == 7)

            let all = try await operations.request("/api/v1/clients?limit=1&offset=1").json
            #expect(all["total"] as? Int == 2)
            #expect((all["clients"] as? [[String: Any]])?.first?["clientId"] as? String == "sensor-1")
            let offline = try await operations.request("/api/v1/clients?connected=false").json
            #expect(offline["total"] as? Int == 0)
        }
    }

    /// Client identifiers are percent-decoded from the path: any character may be in one.
    @Test func aClientIdentifierWithSlashesAndSpacesIsFound() async throws {
        try await OperationsHarness.with { operations in
            _ = try await operations.broker.client("plant 7/line", version: .v5)
            let detail = try await operations.request("/api/v1/clients/plant%207%2Fline")
            #expect(detail.status == .ok)
            #expect(try detail.json["clientId"] as? String == "plant 7/line")
            #expect(try await operations.request("/api/v1/clients/nobody").status == .notFound)
        }
    }

    /// DELETE disconnects a 5.0 client with 0x98 (Administrative action); its session stays unless discarded.
    @Test func kickingAClientDisconnectsItWithAdministrativeAction() async throws {
        try await OperationsHarness.with { operations in
            let client = try await operations.broker.client("kicked", version: .v5, properties: [.sessionExpiryInterval(600)])
            let answer = try await operations.request(.DELETE, "/api/v1/clients/kicked")
            #expect(answer.status == .ok)
            #expect(try answer.json["disconnected"] as? Bool == true)
            #expect(try answer.json["discarded"] as? Bool == false)
            let disconnect = try await client.expectDisconnect()
            #expect(disconnect.reasonCode == .administrativeAction)
            try await operations.broker.waitForConnectedClients(0)
            let kept = try await operations.request("/api/v1/clients/kicked").json
            #expect(kept["connected"] as? Bool == false)
        }
    }

    @Test func discardingEndsTheSessionAndItsSubscriptions() async throws {
        try await OperationsHarness.with { operations in
            let client = try await operations.broker.client("discarded", version: .v5, properties: [.sessionExpiryInterval(600)])
            _ = try await client.subscribe("discard/me", qos: .atLeastOnce)
            let answer = try await operations.request(.DELETE, "/api/v1/clients/discarded?discard=true")
            #expect(try answer.json["discarded"] as? Bool == true)
            #expect(try await client.expectDisconnect().reasonCode == .administrativeAction)
            #expect(try await operations.request("/api/v1/clients/discarded").status == .notFound)
            #expect(try await operations.request("/api/v1/topics").json["total"] as? Int == 0)
            let statistics = try await operations.broker.broker.statistics()
            #expect(statistics.subscriptions == 0)
            #expect(try await operations.request(.DELETE, "/api/v1/clients/discarded").status == .notFound)
        }
    }

    @Test func subscriptionsAndTopicsAreListedAndFiltered() async throws {
        try await OperationsHarness.with { operations in
            let first = try await operations.broker.client("a-client", version: .v5)
            _ = try await first.subscribe("jobs/#", qos: .atLeastOnce)
            _ = try await first.subscribe("$share/workers/tasks/+", qos: .atMostOnce, packetIdentifier: 2)
            let second = try await operations.broker.client("b-client", version: .v5)
            _ = try await second.subscribe("jobs/#", qos: .atMostOnce)

            let all = try await operations.request("/api/v1/subscriptions").json
            #expect(all["total"] as? Int == 3)
            let shared = try await operations.request("/api/v1/subscriptions?group=workers").json
            let member = try #require((shared["subscriptions"] as? [[String: Any]])?.first)
            #expect(shared["total"] as? Int == 1)
            #expect(member["filter"] as? String == "tasks/+")
            #expect(member["group"] as? String == "workers")
            #expect(try await operations.request("/api/v1/subscriptions?client=b-client").json["total"] as? Int == 1)
            #expect(try await operations.request("/api/v1/subscriptions?filter=jobs%2F%23").json["total"] as? Int == 2)

            let topics = try await operations.request("/api/v1/topics").json
            let filters = try #require(topics["topics"] as? [[String: Any]])
            #expect(filters.map { $0["filter"] as? String } == ["jobs/#", "tasks/+"])
            #expect(filters.first?["subscribers"] as? Int == 2)
        }
    }

    @Test func badPagingIsRefused() async throws {
        try await OperationsHarness.with { operations in
            for query in ["limit=0", "limit=1001", "offset=-1", "limit=ten", "connected=maybe"] {
                let answer = try await operations.request("/api/v1/clients?\(query)")
                #expect(answer.status == .badRequest, "\(query)")
                #expect(try answer.json["error"] is String)
            }
        }
    }
}
