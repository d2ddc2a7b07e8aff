#if os(Linux)
import CStarlingLinux
import MQTT
import NIOCore
@testable import StarlingBroker
import Testing

/// What a subscription and a retained message cost, piece by piece, so that a change cannot grow them unnoticed:
/// the table entries' sizes and what malloc hands out for the objects, the figures of when the bounds were set.
/// Raise one only knowingly. (The whole, with the tables' load, is `BrokerProfile state`: 169 heap bytes per
/// exact subscription at 100,000, 329 per `w/…/+`, 175 per retained message. Heap statistics count the whole
/// process, which other tests share while these run, so they are not asserted here.) Bytes, not time.
@Suite struct StateFootprintTests {
    /// A wildcard-free filter is one entry of the tree's table and one of the session's: 40 and 24 bytes.
    @Test func anExactSubscriptionsEntries() {
        #expect(MemoryLayout<PackedSubscription>.size == 8)
        #expect(MemoryLayout<FilterSubscribers.Entry>.stride == 16)
        #expect(MemoryLayout<FilterSubscribers>.stride <= 24)
        #expect(MemoryLayout<ExactString>.stride + MemoryLayout<FilterSubscribers>.stride <= 40)
        #expect(MemoryLayout<ExactString>.stride + MemoryLayout<PackedSubscription>.stride <= 24)
    }

    /// A level of the wildcard tree is one block of at most 80 usable bytes (64 bytes of object).
    @Test func aLevelOfTheWildcardTree() {
        #expect(Self.allocatedBytes { TopicTree.Node() } <= 80)
    }

    /// A retained message with a 32-byte payload is one block of 104 usable bytes, and one 24-byte entry in its
    /// level's table.
    @Test func aRetainedMessage() {
        var payload = ByteBufferAllocator().buffer(capacity: 65_536)
        payload.writeRepeatingByte(0x78, count: 32)
        let message = Message(topic: "r/0000001", payload: payload, retain: true, publisher: "publisher")
        #expect(Self.allocatedBytes { RetainedMessage.make(message) } <= 104)
        #expect(RetainedStore.entryStride <= 24)
    }

    /// What malloc gives an object that `make` makes: the smallest of a thousand held at once (see
    /// `IdleFootprintTests`).
    private static func allocatedBytes(_ make: () -> AnyObject) -> Int {
        let objects = (0..<1_000).map { _ in make() }
        return objects.map { malloc_usable_size(Unmanaged.passUnretained($0).toOpaque()) }.min()!
    }
}
#endif
