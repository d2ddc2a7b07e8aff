import NIOCore

/// The sizes of a connection's receive buffers: doubled after a read that fills the buffer, halved after two
/// reads in a row that use half of it or less, between a minimum and a maximum — SwiftNIO's adaptive policy in
/// 13 bytes instead of 33. Every channel keeps a copy of its own, inside the channel when it fits an
/// existential's inline storage (three words), in an object of its own otherwise: about 64 bytes more for each
/// connection.
struct CompactRecvByteBufferAllocator: RecvByteBufferAllocator {
    private let minimum: UInt32
    private let maximum: UInt32
    private var next: UInt32
    private var decreaseNow = false

    /// What the broker's connections start with: 64 bytes, an idle connection’s whole need, growing to 256 KiB.
    static let broker = CompactRecvByteBufferAllocator(minimum: 64, initial: 64, maximum: 262_144)

    init(minimum: Int, initial: Int, maximum: Int) {
        precondition(0 < minimum && minimum <= initial && initial <= maximum && maximum <= 1 << 30)
        self.minimum = UInt32(minimum)
        self.maximum = UInt32(maximum)
        self.next = UInt32(initial)
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: Int(next))
    }

    func nextBufferSize() -> Int? {
        Int(next)
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        let half = next / 2
        if actualReadBytes <= Int(half) && half >= minimum {
            if decreaseNow { next = half }
            decreaseNow.toggle()
            return false
        }
        decreaseNow = false
        // `maximum` is at most 2^30, so the doubling cannot overflow.
        guard actualReadBytes >= Int(next) && next * 2 <= maximum else { return false }
        next *= 2
        return true
    }
}
