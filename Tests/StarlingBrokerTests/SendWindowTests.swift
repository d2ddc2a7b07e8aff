import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// `MQTTBroker.allowSendWindow`: a trusted client (a bridge) may have more in flight than `maximumInflight`.
@Suite struct SendWindowTests {
    @Test(arguments: [false, true])
    func aWiderWindowIsGivenOnlyToTheClientNamed(wider: Bool) async throws {
        try await TestBroker.with { broker in
            if wider { broker.broker.allowSendWindow(100, forClientIdentifier: "bridge") }
            let (subscriber, _) = try await broker.connect("bridge", version: .v5, properties: [.receiveMaximum(60)])
            _ = try await subscriber.subscribe("w/#", qos: .atLeastOnce)
            let publisher = try await broker.client("publisher", version: .v5)
            for index in 1...80 { _ = try await publisher.publishQoS1("w/\(index)", "x", packetIdentifier: UInt16(index)) }
            // Nothing is acknowledged: what the window does not take waits in the queue.
            let deadline = ContinuousClock.now + .seconds(20)
            var snapshot = await broker.broker.client("bridge")
            while (snapshot?.inflight ?? 0) + (snapshot?.queued ?? 0) < 80 {
                guard ContinuousClock.now < deadline else { Issue.record("not all 80 reached the session"); return }
                try await Task.sleep(for: .milliseconds(10))
                snapshot = await broker.broker.client("bridge")
            }
            // The default maximum is 20; the wider window stops at the client's own Receive Maximum, 60.
            #expect(snapshot?.inflight == (wider ? 60 : 20))
            _ = subscriber
        }
    }
}
