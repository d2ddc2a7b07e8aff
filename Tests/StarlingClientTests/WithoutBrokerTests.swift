#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
@testable import StarlingClient
import StarlingTestSupport
import Testing

/// What a client does when no broker answers at all.
@Suite(.timeLimit(.minutes(1)))
struct WithoutBrokerTests {
    @Test func nothingListeningFailsToConnect() async throws {
        // A port bound but not listening refuses connections, and no other test can take it meanwhile.
        let reserved = try ReservedPort()
        defer { reserved.release() }
        let port = reserved.port
        let error = await #expect(throws: MQTTClientError.self) {
            try await withMQTTClient(url: "mqtt://127.0.0.1:\(port)") { _ in }
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.description.contains("127.0.0.1:\(port)") == true, "\(String(describing: error))")
    }

    @Test func publishesWaitingForAConnectionAreBounded() async throws {
        let reserved = try ReservedPort()
        defer { reserved.release() }
        var configuration = try MQTTClientConfiguration(url: "mqtt://127.0.0.1:\(reserved.port)")
        configuration.maximumQueuedPublishes = 2
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(50))
        let client = MQTTClient(configuration: configuration)
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            let waiting = try await client.withCore { core in
                (1...2).map { index in
                    let promise = core.eventLoop.makePromise(of: PublishResult.self)
                    core.publish(PublishPacket(topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce), promise: promise)
                    return promise.futureResult
                }
            }
            let error = await #expect(throws: MQTTClientError.self) {
                try await client.publish(topic: "t", payload: "3", qos: .atLeastOnce)
            }
            #expect(error?.code == .queueFull)
            await client.disconnect()
            for publish in waiting {
                let shutdown = await #expect(throws: MQTTClientError.self) { try await publish.get() }
                #expect(shutdown?.code == .clientShutdown)
            }
            try await group.waitForAll()
        }
    }
}