import NIOCore

extension ByteBuffer {
    /// A payload is a slice of the buffer its packet was read into (up to the receive maximum, 256 KiB), and keeps
    /// all of it alive. While it is being written that costs nothing, but a payload that waits in a queue would
    /// pin a read buffer hundreds of times its size, and the queue's byte limit, which counts payload bytes as
    /// Mosquitto's does, would bound nothing. So a payload that is under a thirty-second of the storage it keeps
    /// is copied out when it is queued: small copies, and only for messages that wait.
    mutating func releaseLargerStorage() {
        let size = readableBytes
        guard storageCapacity >= QueuedPayload.minimumReleasedStorage, size < storageCapacity / 32 else { return }
        self = QueuedPayload.allocator.buffer(buffer: self)
    }
}

enum QueuedPayload {
    static let allocator = ByteBufferAllocator()
    /// Storage below this is not worth a copy: a buffer this small costs little more than the copy's own.
    static let minimumReleasedStorage = 4096
}
