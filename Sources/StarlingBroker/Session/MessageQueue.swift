import DequeModule
import MQTT

/// The deliveries waiting in a session, in order, with their payload bytes and how many are QoS 0: the queue is
/// bounded by messages and by bytes (`Limits.maximumQueuedMessages` or `FlowControl.maximumQueued`, and
/// `Limits.maximumQueuedBytes`), and a QoS 0 message may go straight to the socket only while none waits before
/// it. Both counts are kept up to date with every change rather than counted when asked.
///
/// The counts are 32 bits each, one word for both: every session carries them (see `IdleFootprintTests`). The
/// bytes stay below 2^32 because `Session.maximumQueuedBytes` caps the limit at 2 GiB, and a message beyond the
/// limit queues only alone (at most `maximumPacketSize`, below 256 MiB).
struct MessageQueue: Sequence {
    private var deliveries: Deque<Delivery> = []
    private var payloadBytes: UInt32 = 0
    private var atMostOnce: UInt32 = 0

    var isEmpty: Bool { deliveries.isEmpty }
    var count: Int { deliveries.count }
    var first: Delivery? { deliveries.first }
    /// Payload bytes of the queued deliveries, as Mosquitto's `max_queued_bytes` counts them.
    var bytes: Int { Int(payloadBytes) }
    /// Queued QoS 0 deliveries.
    var atMostOnceCount: Int { Int(atMostOnce) }

    mutating func append(_ delivery: Delivery) {
        var delivery = delivery
        delivery.message.payload.releaseLargerStorage()
        deliveries.append(delivery)
        counted(delivery, added: true)
    }

    mutating func removeFirst() -> Delivery {
        let delivery = deliveries.removeFirst()
        counted(delivery, added: false)
        return delivery
    }

    mutating func removeAll() {
        deliveries.removeAll()
        payloadBytes = 0
        atMostOnce = 0
    }

    /// Takes the QoS 0 deliveries out from among the others, in order, handing each to `send` while `mayGo`
    /// says so; the others keep their order. For QoS 0 messages waiting behind QoS 1 and 2 ones that the
    /// client's window holds back, which hold no QoS 0 message back. `send` must not touch the queue.
    mutating func takeAtMostOnce(while mayGo: () -> Bool, _ send: (Delivery) -> Void) {
        guard atMostOnce > 0, mayGo() else { return }
        var kept = Deque<Delivery>(minimumCapacity: deliveries.count - Int(atMostOnce))
        while let delivery = deliveries.popFirst() {
            if delivery.qos == .atMostOnce, atMostOnce > 0, mayGo() {
                counted(delivery, added: false)
                send(delivery)
            } else {
                kept.append(delivery)
            }
        }
        deliveries = kept
    }

    private mutating func counted(_ delivery: Delivery, added: Bool) {
        let size = UInt32(truncatingIfNeeded: delivery.message.payload.readableBytes)
        let qos0: UInt32 = delivery.qos == .atMostOnce ? 1 : 0
        if added {
            payloadBytes &+= size
            atMostOnce &+= qos0
        } else {
            payloadBytes &-= size
            atMostOnce &-= qos0
        }
    }

    func makeIterator() -> Deque<Delivery>.Iterator { deliveries.makeIterator() }
}
