import MQTT
import NIOCore
import NIOPosix
@testable import StarlingBroker
import StarlingTesting
import Testing

struct BrokerLoopLifetimeTests {
    /// A batch of deliveries bound for another loop can still be waiting when the application lets go of a
    /// broker it shut down, on a loop group that goes on: the batch must find no broker, not a freed one, and be
    /// dropped with it.
    @Test func aBatchForAnotherLoopOutlivingItsBrokerIsDropped() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var core: BrokerCore? = BrokerCore(
            configuration: BrokerConfiguration(), eventLoops: Array(group.makeIterator()), logger: TestBroker.quietLogger)
        weak let released = core
        let loops = core!.loops
        let session = Session(clientIdentifier: "on-the-other-loop", homeIndex: 1)
        let delivery = Delivery(
            message: Message(topic: "t", payload: ByteBuffer(string: "late"), qos: .atLeastOnce),
            qos: .atLeastOnce, retain: false, subscriptionIdentifiers: [])
        try await loops[0].eventLoop.submit { loops[0].deliver(delivery, to: session) }.get()
        core = nil
        #expect(released == nil)

        try await loops[0].eventLoop.submit { loops[0].flush() }.get()
        let queued = try await loops[1].eventLoop.submit { session.queue.count }.get()
        #expect(queued == 0)
        try await group.shutdownGracefully()
    }
}
