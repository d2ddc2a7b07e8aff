import MQTT
import NIOCore
import Testing

@testable import StarlingBroker

/// The connection's protocol states, from tables: what each packet leads to in each state, how a broken rule is
/// answered, and how a connection is told it closes; no socket.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine

    /// A machine brought to `state` the way a connection gets there.
    static func machine(_ state: Machine.State, version: ProtocolVersion = .v5) -> Machine {
        var machine = Machine()
        guard state != .awaitingConnect else { return machine }
        machine.connectReceived(version: version)
        switch state {
        case .awaitingConnect, .authenticating:
            break
        case .connecting:
            machine.admitted()
        case .connected:
            machine.admitted()
            _ = machine.sessionAttached()
        case .takenOver:
            machine.admitted()
            _ = machine.sessionAttached()
            machine.takenOver()
        case .closed:
            _ = machine.ended()
        }
        #expect(machine.state == state)
        return machine
    }

    static let connect = Packet.connect(ConnectPacket(clientIdentifier: "a"))
    static let publish = Packet.publish(PublishPacket(topic: "t", payload: ByteBuffer()))

    struct DispatchRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var state: Machine.State
        var packet: Packet
        var expected: Machine.Dispatch
    }

    static let dispatchRows: [DispatchRow] = [
        DispatchRow(testDescription: "CONNECT first", state: .awaitingConnect, packet: connect, expected: .connect),
        DispatchRow(testDescription: "another packet first is closed without a word (MQTT-3.1.0-1)",
                    state: .awaitingConnect, packet: publish, expected: .close),
        DispatchRow(testDescription: "PINGREQ first", state: .awaitingConnect, packet: .pingReq, expected: .close),
        DispatchRow(testDescription: "between CONNECT and CONNACK: the authentication exchange decides",
                    state: .authenticating, packet: .auth(AuthPacket(reasonCode: .continueAuthentication)), expected: .authenticationExchange),
        DispatchRow(testDescription: "while the session is set up nothing is handled", state: .connecting, packet: publish, expected: .ignore),
        DispatchRow(testDescription: "PUBLISH when connected", state: .connected, packet: publish, expected: .connected),
        DispatchRow(testDescription: "PINGREQ when connected", state: .connected, packet: .pingReq, expected: .connected),
        DispatchRow(testDescription: "AUTH when connected: re-authentication", state: .connected,
                    packet: .auth(AuthPacket(reasonCode: .reAuthenticate)), expected: .connected),
        DispatchRow(testDescription: "a second CONNECT (MQTT-3.1.0-2)", state: .connected, packet: connect,
                    expected: .disconnect(.protocolError, reasonString: "second CONNECT")),
        DispatchRow(testDescription: "CONNACK from a client", state: .connected, packet: .connAck(ConnAckPacket(reasonCode: .success)),
                    expected: .disconnect(.protocolError, reasonString: "packet sent only by servers")),
        DispatchRow(testDescription: "PINGRESP from a client", state: .connected, packet: .pingResp,
                    expected: .disconnect(.protocolError, reasonString: "packet sent only by servers")),
        DispatchRow(testDescription: "after a take-over nothing is handled", state: .takenOver, packet: publish, expected: .ignore),
        DispatchRow(testDescription: "after closing nothing is handled", state: .closed, packet: publish, expected: .ignore),
    ]

    @Test(arguments: dispatchRows)
    func dispatches(_ row: DispatchRow) {
        #expect(Self.machine(row.state).dispatch(row.packet) == row.expected)
    }

    struct ClosingRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var state: Machine.State
        var version: ProtocolVersion
        var reason: ReasonCode
        var expected: Machine.Closing
    }

    static let closingRows: [ClosingRow] = [
        ClosingRow(testDescription: "5.0 connected, a failure: DISCONNECT, then close lingering", state: .connected, version: .v5,
                   reason: .protocolError, expected: .disconnect(.protocolError, lingering: true)),
        ClosingRow(testDescription: "5.0 connected, not a failure: DISCONNECT, then close", state: .connected, version: .v5,
                   reason: .normalDisconnection, expected: .disconnect(.normalDisconnection, lingering: false)),
        ClosingRow(testDescription: "5.0 connecting: DISCONNECT", state: .connecting, version: .v5,
                   reason: .serverShuttingDown, expected: .disconnect(.serverShuttingDown, lingering: true)),
        ClosingRow(testDescription: "3.1.1 connected: closed without a word", state: .connected, version: .v3_1_1,
                   reason: .protocolError, expected: .close),
        ClosingRow(testDescription: "5.0 before CONNACK: no DISCONNECT", state: .authenticating, version: .v5,
                   reason: .protocolError, expected: .close),
        ClosingRow(testDescription: "5.0 taken over: closed", state: .takenOver, version: .v5, reason: .sessionTakenOver, expected: .close),
        ClosingRow(testDescription: "closed already", state: .closed, version: .v5, reason: .protocolError, expected: .none),
    ]

    @Test(arguments: closingRows)
    func closes(_ row: ClosingRow) {
        #expect(Self.machine(row.state, version: row.version).closing(reason: row.reason) == row.expected)
    }

    struct ViolationRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var state: Machine.State
        var version: ProtocolVersion = .v5
        var error: MQTTError
        var connectProtocolLevel: UInt8? = nil
        var expected: Machine.ViolationAnswer
        var versionAfter: ProtocolVersion
    }

    static let malformed = MQTTError(.remainingLengthMismatch)

    static let violationRows: [ViolationRow] = [
        ViolationRow(testDescription: "unsupported level 6: CONNACK 0x84 in 5.0's form (MQTT-3.1.2-2)", state: .awaitingConnect,
                     error: MQTTError(.unsupportedProtocolVersion(6)), expected: .connAck(.unsupportedProtocolVersion), versionAfter: .v5),
        ViolationRow(testDescription: "unsupported level 2: CONNACK return code 1 in 3.1.1's form", state: .awaitingConnect,
                     error: MQTTError(.unsupportedProtocolVersion(2)),
                     expected: .connAck(ConnectReturnCode.unacceptableProtocolVersion.reasonCode), versionAfter: .v3_1_1),
        ViolationRow(testDescription: "a malformed 5.0 CONNECT: CONNACK with the reason", state: .awaitingConnect, error: malformed,
                     connectProtocolLevel: 5, expected: .connAck(malformed.reasonCode), versionAfter: .v5),
        ViolationRow(testDescription: "a malformed 3.1.1 CONNECT: closed", state: .awaitingConnect, error: malformed,
                     connectProtocolLevel: 4, expected: .close, versionAfter: .v3_1_1),
        ViolationRow(testDescription: "before CONNACK: a refusal says why", state: .authenticating, error: malformed,
                     expected: .refuse(malformed.reasonCode), versionAfter: .v5),
        ViolationRow(testDescription: "5.0 connected: DISCONNECT with the reason", state: .connected, error: malformed,
                     expected: .disconnect(malformed.reasonCode), versionAfter: .v5),
        ViolationRow(testDescription: "3.1.1 connected: closed", state: .connected, version: .v3_1_1, error: malformed,
                     expected: .close, versionAfter: .v3_1_1),
    ]

    @Test(arguments: violationRows)
    func answersViolations(_ row: ViolationRow) {
        var machine = Self.machine(row.state, version: row.version)
        let answer = machine.protocolViolation(row.error, connectProtocolLevel: row.connectProtocolLevel)
        #expect(answer == row.expected)
        #expect(machine.version == row.versionAfter)
    }

    @Test func aConnectionCountsFromConnectUntilItEnds() {
        var machine = Machine()
        #expect(!machine.state.countsAsConnection)
        machine.connectReceived(version: .v3_1_1)
        #expect(machine.state.countsAsConnection)
        machine.admitted()
        let attached = machine.sessionAttached()
        #expect(attached)
        #expect(machine.state == .connected)
        let ended = machine.ended()
        #expect(ended == .connected)
        #expect(!machine.state.countsAsConnection)
        // Ending twice ends once.
        let again = machine.ended()
        #expect(again == nil)
    }

    @Test func aSessionSetUpAfterTheConnectionClosedIsNotAttached() {
        var machine = Self.machine(.connecting)
        let ended = machine.ended()
        #expect(ended == .connecting)
        let attached = machine.sessionAttached()
        #expect(!attached)
        #expect(machine.state == .closed)
    }

    struct DisconnectRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var version: ProtocolVersion = .v5
        var packet: DisconnectPacket
        /// The session's expiry from CONNECT.
        var expiry: UInt32
        var expected: Machine.Disconnection
        var willDiscarded: Bool
    }

    static let disconnectRows: [DisconnectRow] = [
        DisconnectRow(testDescription: "a normal DISCONNECT discards the will (MQTT-3.14.4-3)", packet: DisconnectPacket(), expiry: 0,
                      expected: .close(expiryInterval: nil), willDiscarded: true),
        DisconnectRow(testDescription: "0x04 keeps the will", packet: DisconnectPacket(reasonCode: .disconnectWithWillMessage), expiry: 0,
                      expected: .close(expiryInterval: nil), willDiscarded: false),
        DisconnectRow(testDescription: "a new expiry for a session that had one", packet: DisconnectPacket(properties: [.sessionExpiryInterval(60)]),
                      expiry: 10, expected: .close(expiryInterval: 60), willDiscarded: true),
        DisconnectRow(testDescription: "expiry 0 for a session that had one", packet: DisconnectPacket(properties: [.sessionExpiryInterval(0)]),
                      expiry: 10, expected: .close(expiryInterval: 0), willDiscarded: true),
        DisconnectRow(testDescription: "an expiry for a session that had none (MQTT-3.14.2-2)",
                      packet: DisconnectPacket(properties: [.sessionExpiryInterval(60)]), expiry: 0,
                      expected: .disconnect(.protocolError, reasonString: "Session Expiry Interval was 0 in CONNECT"), willDiscarded: false),
        DisconnectRow(testDescription: "3.1.1 has no properties to heed", version: .v3_1_1,
                      packet: DisconnectPacket(properties: [.sessionExpiryInterval(60)]), expiry: 0,
                      expected: .close(expiryInterval: nil), willDiscarded: true),
    ]

    @Test(arguments: disconnectRows)
    func receivesDisconnect(_ row: DisconnectRow) {
        var machine = Self.machine(.connected, version: row.version)
        let outcome = machine.receiveDisconnect(row.packet, sessionExpiryInterval: row.expiry)
        #expect(outcome == row.expected)
        #expect(machine.willDiscarded == row.willDiscarded)
    }

    @Test func onlyAConnectedSessionIsTakenOver() {
        var connecting = Self.machine(.connecting)
        connecting.takenOver()
        #expect(connecting.state == .connecting)
        var connected = Self.machine(.connected)
        connected.takenOver()
        #expect(connected.state == .takenOver)
    }
}
