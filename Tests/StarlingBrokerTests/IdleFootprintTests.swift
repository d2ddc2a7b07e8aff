#if os(Linux)
import CStarlingLinux
import NIOCore
@testable import StarlingBroker
import StarlingTesting
import Testing

/// What a hibernating connection keeps is its `ConnectionHandler` and its `Session`: a field added to either is
/// paid for by every idle connection, so their sizes are held here, as glibc's malloc hands them out (Linux only,
/// where connections hibernate). Raise a limit only knowingly.
@Suite struct IdleFootprintTests {
    @Test func aConnectionAndItsSessionStaySmall() async throws {
        try await TestBroker.with { broker in
            let core = broker.broker.core
            let loop = core.loops[0]
            let (handler, session) = try await loop.eventLoop.submit {
                let address = try? SocketAddress(ipAddress: "2001:db8::1", port: 1)
                return (
                    Self.allocatedBytes { ConnectionHandler(core: core, loop: loop, remoteAddress: address) },
                    Self.allocatedBytes { Session(clientIdentifier: "client", homeIndex: 0) }
                )
            }.get()
            #expect(handler <= 360)
            #expect(session <= 136)
        }
    }

    /// What malloc gives an object that `make` makes. A block that malloc reuses may be larger than asked for
    /// (glibc hands out a free block up to 31 bytes larger whole), and while other tests run their frees can
    /// leave many such blocks: so this is the smallest of a thousand, held at once so that each is a block of its
    /// own and the later ones come out of fresh memory.
    private static func allocatedBytes(_ make: () -> AnyObject) -> Int {
        let objects = (0..<1_000).map { _ in make() }
        return objects.map { malloc_usable_size(Unmanaged.passUnretained($0).toOpaque()) }.min()!
    }
}
#endif
