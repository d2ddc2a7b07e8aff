import NIOCore

/// The output buffers of one loop, handed from connection to connection so that sending allocates nothing in
/// the steady state.
///
/// A connection takes a buffer for the packets of one burst and gives it back once it has written it. SwiftNIO
/// lets go of a buffer's bytes once they are on the socket, almost always before the loop takes the buffer again,
/// so clearing it then reuses its memory; a buffer still waiting on a full socket is simply replaced by a new,
/// small one.
/// Only buffers up to `largestKept` bytes are kept, and no more than `capacityKept` bytes in all: a burst that
/// wrote to many connections at once, or one that needed a large buffer, leaves little behind.
struct OutputBufferPool {
    private var spares: [ByteBuffer] = []
    private var spareCapacity = 0
    private let allocator = ByteBufferAllocator()

    static let initialCapacity = 256
    static let largestKept = 64 * 1_024
    static let capacityKept = 1_024 * 1_024

    /// An empty buffer: a spare if there is one, else a new one.
    mutating func take() -> ByteBuffer {
        guard var buffer = spares.popLast() else { return allocator.buffer(capacity: Self.initialCapacity) }
        spareCapacity -= buffer.capacity
        // Allocates afresh only if SwiftNIO still holds these bytes, unwritten; then at the initial size, not at
        // this buffer's: a client that reads slowly would otherwise keep a large buffer for every small write
        // waiting on its socket.
        buffer.clear(minimumCapacity: Self.initialCapacity)
        return buffer
    }

    /// Keeps `buffer`, written or given up, for the next `take()`.
    mutating func give(_ buffer: ByteBuffer) {
        let capacity = buffer.capacity
        guard capacity <= Self.largestKept, spareCapacity + capacity <= Self.capacityKept else { return }
        spareCapacity += capacity
        spares.append(buffer)
    }

    /// How many buffers wait to be taken.
    var count: Int { spares.count }
}
