import DequeModule
import MQTT

/// A connection's acknowledgements that wait for the store to commit what they acknowledge
/// (`Durability.everyAck`), let through in the order they were given (MQTT-4.6.0-2). Empty, it is one pointer
/// wide; the connection registers with its loop's `LoopStoreChanges` whenever the gate starts holding.
struct AcknowledgementGate {
    private struct Held {
        /// The loop's store ticket of the last change the acknowledgement depends on.
        var ticket: UInt64
        var packet: Packet
    }

    private var held: Deque<Held> = []

    var isEmpty: Bool { held.isEmpty }

    /// What becomes of an acknowledgement given to the gate.
    enum Passage: Equatable {
        /// Send it now.
        case pass
        /// Held; `startsWaiting` when the gate was empty, so the connection must ask to hear of the next commit.
        case held(startsWaiting: Bool)
    }

    /// Gives the gate `packet`, which depends on changes recorded up to `ticket`; `committed` is the last ticket
    /// the store has committed. It waits if its changes are not committed, or if an earlier acknowledgement waits.
    mutating func admit(_ packet: Packet, ticket: UInt64, committed: UInt64) -> Passage {
        guard ticket > committed || !held.isEmpty else { return .pass }
        let startsWaiting = held.isEmpty
        held.append(Held(ticket: ticket, packet: packet))
        return .held(startsWaiting: startsWaiting)
    }

    /// Lets through, in order, the acknowledgements whose changes are committed (or failed to be) up to `ticket`.
    mutating func release(through ticket: UInt64, _ body: (Packet) -> Void) {
        while let first = held.first, first.ticket <= ticket {
            held.removeFirst()
            body(first.packet)
        }
    }
}
