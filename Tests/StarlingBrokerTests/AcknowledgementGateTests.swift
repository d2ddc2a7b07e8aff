import MQTT
import Testing

@testable import StarlingBroker

/// Acknowledgements held for the store's commits: in order, and only as long as their changes are uncommitted.
@Suite struct AcknowledgementGateTests {
    static func ack(_ identifier: UInt16) -> Packet {
        .pubAck(AcknowledgementPacket(packetIdentifier: identifier))
    }

    @Test func anAcknowledgementOfCommittedChangesPasses() {
        var gate = AcknowledgementGate()
        #expect(gate.admit(Self.ack(1), ticket: 3, committed: 3) == .pass)
        #expect(gate.isEmpty)
    }

    @Test func onlyTheFirstHeldStartsAWait() {
        var gate = AcknowledgementGate()
        #expect(gate.admit(Self.ack(1), ticket: 4, committed: 3) == .held(startsWaiting: true))
        #expect(gate.admit(Self.ack(2), ticket: 5, committed: 3) == .held(startsWaiting: false))
        #expect(!gate.isEmpty)
    }

    @Test func aCommittedAcknowledgementWaitsBehindAnEarlierOne() {
        var gate = AcknowledgementGate()
        _ = gate.admit(Self.ack(1), ticket: 4, committed: 3)
        // Its own changes are committed, but MQTT-4.6.0-2 keeps acknowledgements in order.
        #expect(gate.admit(Self.ack(2), ticket: 3, committed: 3) == .held(startsWaiting: false))
        var released: [Packet] = []
        gate.release(through: 4) { released.append($0) }
        #expect(released == [Self.ack(1), Self.ack(2)])
        #expect(gate.isEmpty)
    }

    @Test func aCommitReleasesOnlyWhatItCovers() {
        var gate = AcknowledgementGate()
        _ = gate.admit(Self.ack(1), ticket: 4, committed: 3)
        _ = gate.admit(Self.ack(2), ticket: 6, committed: 3)
        var released: [Packet] = []
        gate.release(through: 5) { released.append($0) }
        #expect(released == [Self.ack(1)])
        #expect(!gate.isEmpty)
        gate.release(through: 6) { released.append($0) }
        #expect(released == [Self.ack(1), Self.ack(2)])
        #expect(gate.isEmpty)
    }
}
