#if os(Linux)
import Glibc
import NIOCore
import NIOPosix
@testable import StarlingBroker
import Testing

/// A hibernating connection keeps its socket by descriptor; the descriptor is read from SwiftNIO's channel by
/// reflection and then from the offsets learned from it, and both must name the channel's own socket.
struct SocketDescriptorTests {
    @Test func everyChannelsDescriptorIsItsOwnSocketBeforeAndAfterTheLayoutIsLearned() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { _ in group.any().makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        var clients: [any Channel] = []
        defer { for client in clients { client.close(promise: nil) }; server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        for _ in 0..<(DescriptorLayout.observationsNeeded * 2) {
            clients.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get())
        }
        for client in clients {
            let descriptor = try #require(try await client.eventLoop.submit { SocketDescriptor.of(client) }.get())
            #expect(Self.localPort(of: descriptor) == client.localAddress?.port)
        }
        let channelClass = ObjectIdentifier(type(of: clients[0]))
        let known = DescriptorLayout.knowledge.withLock { $0[channelClass] }
        guard case .learned = known else {
            Issue.record("the layout of \(type(of: clients[0])) was not learned: \(String(describing: known))")
            return
        }
    }

    private static func localPort(of descriptor: CInt) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return result == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}
#endif
