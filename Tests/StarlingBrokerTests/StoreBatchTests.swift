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

    /// A session deleted and started again within one batch numbers its deliveries from 1 again: a new delivery
    /// with the number of one that cancelled out before the deletion is written.
    @Test func aDeliveryOfASessionStartedAgainIsWrittenWhateverItsNumber() {
        let batch = StoreBatch([
            Self.added("c", sequence: 1, qos: .atLeastOnce), .deliveryRemoved(clientIdentifier: "c", sequence: 1),
            .sessionDeleted(clientIdentifier: "c"), Self.added("c", sequence: 1, qos: .atLeastOnce),
        ])
        #expect(Self.net(batch) == ["c/1 added"])
        #expect(batch.deletedSessions.map(\.string) == ["c"])
    }

    /// Folding a whole batch at once leaves what folding it change by change does.
    @Test func foldingAllAtOnceLeavesWhatFoldingOneByOneDoes() {
        let changes: [StoreChange] = [
            Self.added("a", sequence: 1, qos: .atLeastOnce), Self.added("a", sequence: 2, qos: .exactlyOnce),
            Self.added("b", sequence: 1, qos: .atLeastOnce), .deliveryReleased(clientIdentifier: "a", sequence: 2),
            .deliveryRemoved(clientIdentifier: "a", sequence: 1), .deliveryRemoved(clientIdentifier: "a", sequence: 2),
            .deliveryReleased(clientIdentifier: "b", sequence: 9), .deliveryRemoved(clientIdentifier: "b", sequence: 8),
            Self.added("d", sequence: 4, qos: .atLeastOnce), .sessionDeleted(clientIdentifier: "d"),
            .deliveryRemoved(clientIdentifier: "d", sequence: 4), Self.added(clusterLinkPrefix + "n", sequence: 3, qos: .exactlyOnce),
            .deliveryReleased(clientIdentifier: clusterLinkPrefix + "n", sequence: 3),
            .deliveryRemoved(clientIdentifier: clusterLinkPrefix + "n", sequence: 3), Self.added("e", sequence: 5, qos: .exactlyOnce),
            .deliveryReleased(clientIdentifier: "e", sequence: 5),
        ]
        var oneByOne = StoreBatch()
        for change in changes { oneByOne.apply(change) }
        let allAtOnce = StoreBatch(changes)
        #expect(Self.net(allAtOnce) == Self.net(oneByOne))
        #expect(Self.net(allAtOnce) == ["b/1 added", "b/9 released", "b/8 removed", "d/4 removed", "\(clusterLinkPrefix)n/3 removed", "e/5 added released"])
    }

    static func net(_ batch: StoreBatch) -> [String] {
        batch.deliveries.map { key, change in
            let what = switch change {
            case .added(let delivery): delivery.released ? "added released" : "added"
            case .released: "released"
            case .removed: "removed"
            }
            return "\(key.client.string)/\(key.sequence) \(what)"
        }
    }
}
