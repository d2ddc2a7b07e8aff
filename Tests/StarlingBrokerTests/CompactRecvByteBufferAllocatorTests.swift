import NIOCore
@testable import StarlingBroker
import Testing

struct CompactRecvByteBufferAllocatorTests {
    /// The point of it: a channel keeps its copy inline, not in an object of its own.
    @Test func fitsAnExistentialsInlineStorage() {
        #expect(MemoryLayout<CompactRecvByteBufferAllocator>.size <= 3 * MemoryLayout<Int>.size)
    }

    @Test func fullReadsDoubleTheBufferUpToTheMaximum() {
        var sizes = CompactRecvByteBufferAllocator(minimum: 64, initial: 64, maximum: 256)
        #expect(sizes.nextBufferSize() == 64)
        var mayGrow = sizes.record(actualReadBytes: 64)
        #expect(mayGrow && sizes.nextBufferSize() == 128)
        mayGrow = sizes.record(actualReadBytes: 128)
        #expect(mayGrow && sizes.nextBufferSize() == 256)
        mayGrow = sizes.record(actualReadBytes: 256)
        #expect(!mayGrow)
        #expect(sizes.nextBufferSize() == 256)
        #expect(sizes.buffer(allocator: ByteBufferAllocator()).capacity >= 256)
    }

    @Test func twoSmallReadsInARowHalveItDownToTheMinimum() {
        var sizes = CompactRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 1024)
        _ = sizes.record(actualReadBytes: 100)
        #expect(sizes.nextBufferSize() == 256)
        _ = sizes.record(actualReadBytes: 100)
        #expect(sizes.nextBufferSize() == 128)
        // A read between half and all of the buffer breaks the run.
        _ = sizes.record(actualReadBytes: 10)
        _ = sizes.record(actualReadBytes: 100)
        _ = sizes.record(actualReadBytes: 10)
        #expect(sizes.nextBufferSize() == 128)
        _ = sizes.record(actualReadBytes: 10)
        #expect(sizes.nextBufferSize() == 64)
        _ = sizes.record(actualReadBytes: 1)
        _ = sizes.record(actualReadBytes: 1)
        #expect(sizes.nextBufferSize() == 64)
    }
}
