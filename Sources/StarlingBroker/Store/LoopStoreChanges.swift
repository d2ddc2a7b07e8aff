import DequeModule
import NIOCore

/// The changes one event loop records for the store, and the acknowledgements waiting for them to be committed.
/// Confined to its loop: recording a change is an append to an array, with no lock; the array is handed to the
/// writer once per burst (at `BrokerLoop.flush`), before deliveries for other loops are sent, so that a change
/// made here always reaches the store before any change another loop makes in response to it.
final class LoopStoreChanges {
    unowned(unsafe) let loop: BrokerLoop
    let writer: StoreWriter
    /// With `Durability.everyAck`, acknowledgements wait for their changes to be committed.
    let holdsAcknowledgements: Bool
    private var changes: [StoreChange] = []
    /// The batches handed to the writer and not yet committed, for `lastTicket(recordingFor:)`.
    private var uncommitted: Deque<(ticket: UInt64, changes: [StoreChange])> = []
    private var nextTicket: UInt64 = 1
    private(set) var committedTicket: UInt64 = 0
    private var handOffScheduled = false
    private var waiting: [ConnectionHandler] = []
    /// In-process publishes waiting for a commit: the ticket, and what to call with whether it failed.
    private var waitingPublishes: [(ticket: UInt64, done: (Bool) -> Void)] = []

    init(loop: BrokerLoop, writer: StoreWriter) {
        self.loop = loop
        self.writer = writer
        if case .everyAck = writer.durability { holdsAcknowledgements = true } else { holdsAcknowledgements = false }
    }

    func append(_ change: StoreChange) {
        if changes.isEmpty && !handOffScheduled {
            // Changes made outside a read burst (timers, tasks from other loops) are handed off all the same.
            handOffScheduled = true
            let loop = self.loop
            loop.eventLoop.execute {
                guard let storeChanges = loop.storeChanges else { return }
                storeChanges.handOffScheduled = false
                storeChanges.handOff()
            }
        }
        changes.append(change)
    }

    /// The ticket of the batch that holds every change recorded so far.
    var currentTicket: UInt64 { changes.isEmpty ? nextTicket - 1 : nextTicket }

    func handOff() {
        guard !changes.isEmpty else { return }
        writer.submit(StoreWriter.Batch(loopIndex: loop.index, ticket: nextTicket, changes: changes))
        uncommitted.append((nextTicket, changes))
        changes.removeAll(keepingCapacity: true)
        nextTicket += 1
    }

    /// The ticket of the last batch, handed off or not, that holds a change to the stored session of
    /// `clientIdentifier` and is not committed yet; nil when there is none.
    func lastTicket(recordingFor clientIdentifier: String) -> UInt64? {
        if changes.contains(where: { $0.clientIdentifier?.hasSameBytes(as: clientIdentifier) == true }) { return nextTicket }
        for batch in uncommitted.reversed()
        where batch.changes.contains(where: { $0.clientIdentifier?.hasSameBytes(as: clientIdentifier) == true }) {
            return batch.ticket
        }
        return nil
    }

    /// `connection` holds acknowledgements until a commit.
    func wait(_ connection: ConnectionHandler) {
        waiting.append(connection)
    }

    /// Calls `done` once the batch `ticket` is committed, with whether the commit failed.
    func whenCommitted(_ ticket: UInt64, _ done: @escaping (Bool) -> Void) {
        if committedTicket >= ticket { return done(false) }
        waitingPublishes.append((ticket, done))
    }

    func committed(through ticket: UInt64, failed: Bool) {
        committedTicket = max(committedTicket, ticket)
        while let first = uncommitted.first, first.ticket <= committedTicket { uncommitted.removeFirst() }
        if !waitingPublishes.isEmpty {
            let due = waitingPublishes.filter { $0.ticket <= committedTicket }
            waitingPublishes.removeAll { $0.ticket <= committedTicket }
            for publish in due { publish.done(failed) }
        }
        guard !waiting.isEmpty else { return }
        let connections = waiting
        waiting.removeAll(keepingCapacity: true)
        for connection in connections { AcknowledgementRelease.release(through: committedTicket, failed: failed, on: connection) }
        loop.flush()
    }

    /// Records `delivery` for `session`, giving it the session's next sequence number.
    func record(_ delivery: inout Delivery, for session: Session) {
        delivery.sequence = session.nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        let message = delivery.message
        let stored: StoredMessage
        if message.expiry == nil {
            stored = StoredMessage(
                topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain,
                properties: message.properties, publisher: message.publisher)
        } else {
            stored = StoredMessage(message, now: .now(), wallNow: .now())
        }
        append(.deliveryAdded(
            clientIdentifier: session.clientIdentifier,
            StoredDelivery(
                sequence: delivery.sequence, message: stored, qos: delivery.qos, retain: delivery.retain,
                subscriptionIdentifiers: delivery.subscriptionIdentifiers, share: delivery.share?.rawValue)))
    }

    func recordRemoval(_ delivery: Delivery, for session: Session) {
        guard delivery.sequence != 0 else { return }
        append(.deliveryRemoved(clientIdentifier: session.clientIdentifier, sequence: delivery.sequence))
    }
}

extension LoopStoreChanges {
    func recordRetained(_ message: Message) {
        if message.payload.readableBytes == 0 {
            append(.retainedDeleted(topic: message.topic))
        } else {
            append(.retainedSaved(StoredMessage(message, now: .now(), wallNow: .now())))
        }
    }
}
