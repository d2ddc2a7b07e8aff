import MQTT
import NIOCore
@testable import StarlingBroker
import Testing

/// A queued payload must not keep the whole buffer its packet was read into: the queue's byte limit counts payload
/// bytes, and would bound nothing if each 64-byte message held a 256 KiB read buffer.
struct QueuedPayloadTests {
    private func delivery(payloadOf size: Int, in readBuffer: ByteBuffer) -> Delivery {
        let payload = readBuffer.getSlice(at: 100, length: size)!
        return Delivery(
            message: Message(topic: "t", payload: payload), qos: .atMostOnce, retain: false, subscriptionIdentifiers: [])
    }

    private func readBuffer(_ capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: capacity)
        buffer.writeRepeatingByte(7, count: capacity)
        return buffer
    }

    @Test func aSmallPayloadLetsGoOfItsReadBuffer() {
        let read = readBuffer(262_144)
        var queue = MessageQueue()
        queue.append(delivery(payloadOf: 64, in: read))
        let queued = queue.first!.message.payload
        #expect(queued.storageCapacity < 4096)
        #expect(queued.readableBytes == 64)
        #expect(Array(queued.readableBytesView) == Array(repeating: 7, count: 64))
        #expect(queue.bytes == 64)
    }

    @Test func aPayloadThatIsMostOfItsBufferStaysASlice() {
        let read = readBuffer(262_144)
        var queue = MessageQueue()
        queue.append(delivery(payloadOf: 16_384, in: read))
        // No copy: the 16 KiB payload is a sixteenth of the buffer, under the thirty-second that is copied.
        #expect(queue.first!.message.payload.storageCapacity == read.storageCapacity)
    }

    @Test func aSmallBufferIsNotWorthACopy() {
        let read = readBuffer(2048)
        var queue = MessageQueue()
        queue.append(delivery(payloadOf: 8, in: read))
        #expect(queue.first!.message.payload.storageCapacity == read.storageCapacity)
    }
}
