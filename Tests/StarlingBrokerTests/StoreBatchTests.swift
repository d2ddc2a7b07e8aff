import MQTT
import NIOCore
import StarlingBroker
import Testing

/// What a batch of changes leaves for a database store to write.
struct StoreBatchTests {
    static func added(_ client: String, sequence: UInt64, qos: QoS) -> StoreChange {
        let message = StoredMessage(topic: "t", payload: ByteBuffer(string: "m"), qos: qos, retain: false)
        return .deliveryAdded(clientIdentifier: client, StoredDelivery(sequence: sequence, message: message, qos: qos, retain: false))
    }

    /// A delivery acknowledged in the batch that added it leaves nothing to write, a cluster link's QoS 1 delivery
    /// included; a link's QoS 2 delivery leaves its removal, which takes the other node's record of it along.
    @Test(arguments: [(clusterLinkPrefix + "b", QoS.atLeastOnce, false), ("client", .exactlyOnce, false), (clusterLinkPrefix + "b", .exactlyOnce, true)])
    func aDeliveryAcknowledgedInTheBatchThatAddedItIsNotWritten(client: String, qos: QoS, leavesRemoval: Bool) {
        let batch = StoreBatch([Self.added(client, sequence: 7, qos: qos), .deliveryRemoved(clientIdentifier: client, sequence: 7)])
        if leavesRemoval {
            #expect(batch.deliveries.count == 1)
            guard case .removed = batch.deliveries.values.first else {
                Issue.record("expected the removal to be written, got \(String(describing: batch.deliveries.values.first))")
                return
            }
        } else {
            #expect(batch.isEmpty)
        }
    }

    /// Removed in a later batch, any delivery's removal is written: its row is there.
    @Test func aDeliveryAddedInAnEarlierBatchIsRemoved() {
        let batch = StoreBatch([.deliveryRemoved(clientIdentifier: clusterLinkPrefix + "b", sequence: 7)])
        guard case .removed = batch.deliveries.values.first else {
            Issue.record("expected the removal to be written")
            return
        }
    }
}
