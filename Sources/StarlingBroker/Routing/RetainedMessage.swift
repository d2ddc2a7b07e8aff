import MQTT
import NIOCore

/// A retained message as `RetainedStore` keeps it: one allocation holding what a delivery needs besides the
/// topic, with the payload's bytes after those fields.
///
/// A copy of the bytes rather than the `ByteBuffer` the message came in: a payload is a slice of the buffer its
/// packet was read into, which it would keep whole for as long as the topic's message is retained, and a
/// `ByteBuffer` of its own costs two allocations (its storage object and its bytes).
final class RetainedMessage: ManagedBuffer<RetainedMessage.Fields, UInt8> {
    struct Fields {
        var qos: QoS
        var payloadCount: Int32
        var properties: Properties
        var publisher: String?
        var expiry: NIODeadline?
    }

    static func make(_ message: Message) -> RetainedMessage {
        let payload = message.payload
        let count = payload.readableBytes
        let made = create(minimumCapacity: count) { _ in
            Fields(qos: message.qos, payloadCount: Int32(count), properties: message.properties, publisher: message.publisher, expiry: message.expiry)
        }
        let retained = unsafeDowncast(made, to: RetainedMessage.self)
        retained.withUnsafeMutablePointerToElements { elements in
            payload.withUnsafeReadableBytes { bytes in
                UnsafeMutableRawPointer(elements).copyMemory(from: bytes.baseAddress!, byteCount: count)
            }
        }
        return retained
    }

    var payloadCount: Int { Int(header.payloadCount) }

    func isExpired(at now: NIODeadline) -> Bool {
        guard let expiry = header.expiry else { return false }
        return now >= expiry
    }

    /// The message to deliver, on `topic` (the store's levels joined), its payload in a buffer of its own.
    func message(topic: String) -> Message {
        let fields = header
        let payload = withUnsafeMutablePointerToElements { elements in
            ByteBuffer(bytes: UnsafeRawBufferPointer(start: elements, count: Int(fields.payloadCount)))
        }
        var message = Message(topic: topic, payload: payload, qos: fields.qos, retain: true, publisher: fields.publisher, expiry: fields.expiry)
        message.properties = fields.properties
        return message
    }
}
