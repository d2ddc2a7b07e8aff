import NIOCore
@testable import StarlingBroker
import Testing

@Suite struct OutputBufferPoolTests {
    @Test func aWrittenBufferIsTakenAgainWithItsMemory() {
        var pool = OutputBufferPool()
        var buffer = pool.take()
        buffer.writeString("CONNACK")
        let memory = Self.address(of: buffer)
        pool.give(buffer)
        buffer = ByteBuffer()
        let again = pool.take()
        #expect(again.readableBytes == 0)
        #expect(Self.address(of: again) == memory)
        #expect(pool.count == 0)
    }

    @Test func aBufferStillBeingWrittenIsLeftAlone() {
        var pool = OutputBufferPool()
        var buffer = pool.take()
        buffer.writeString("first")
        // What the channel holds until the socket takes it.
        let pending = buffer
        pool.give(buffer)
        var next = pool.take()
        next.writeString("second")
        #expect(String(buffer: pending) == "first")
        #expect(String(buffer: next) == "second")
        #expect(Self.address(of: next) != Self.address(of: pending))
    }

    @Test func aLargeBufferStillBeingWrittenIsReplacedByASmallOne() {
        var pool = OutputBufferPool()
        var buffer = ByteBufferAllocator().buffer(capacity: OutputBufferPool.largestKept)
        buffer.writeString("a burst for a client that reads slowly")
        let pending = buffer
        pool.give(buffer)
        let next = pool.take()
        #expect(next.capacity == OutputBufferPool.initialCapacity)
        #expect(pending.capacity >= OutputBufferPool.largestKept)
        // A large one that is free is reused whole.
        pool.give(ByteBufferAllocator().buffer(capacity: OutputBufferPool.largestKept))
        #expect(pool.take().capacity >= OutputBufferPool.largestKept)
    }

    @Test func keepsNeitherLargeBuffersNorTooManyBytes() {
        var pool = OutputBufferPool()
        pool.give(ByteBufferAllocator().buffer(capacity: OutputBufferPool.largestKept + 1))
        #expect(pool.count == 0)
        let largest = ByteBufferAllocator().buffer(capacity: OutputBufferPool.largestKept)
        for _ in 0..<(OutputBufferPool.capacityKept / largest.capacity + 3) { pool.give(largest) }
        #expect(pool.count == OutputBufferPool.capacityKept / largest.capacity)
        _ = pool.take()
        pool.give(largest)
        #expect(pool.count == OutputBufferPool.capacityKept / largest.capacity)
    }

    private static func address(of buffer: ByteBuffer) -> UnsafeRawPointer? {
        buffer.withVeryUnsafeBytes { UnsafeRawPointer($0.baseAddress) }
    }
}
