import MQTT
import Testing

@testable import StarlingBroker

/// The enhanced authentication exchange's rules, from tables; no socket, no authenticator.
@Suite struct AuthenticationExchangeTests {
    static func auth(_ reason: ReasonCode, method: String? = "SCRAM-SHA-256") -> AuthPacket {
        AuthPacket(reasonCode: reason, properties: method.map { [.authenticationMethod($0)] } ?? [])
    }

    struct BeforeRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var packet: Packet
        var awaitingStep: Int?
        var method: String? = "SCRAM-SHA-256"
        var expected: AuthenticationExchange.BeforeConnAck
    }

    static let beforeRows: [BeforeRow] = [
        BeforeRow(testDescription: "the client's answer to AUTH 0x18", packet: .auth(auth(.continueAuthentication)), awaitingStep: 2,
                  expected: .ask(step: 2)),
        BeforeRow(testDescription: "AUTH while the authenticator decides", packet: .auth(auth(.continueAuthentication)), awaitingStep: nil,
                  expected: .refuse(.protocolError, reasonString: "AUTH out of turn")),
        BeforeRow(testDescription: "AUTH with another reason (MQTT-4.12.0-3)", packet: .auth(auth(.reAuthenticate)), awaitingStep: 2,
                  expected: .refuse(.protocolError, reasonString: "AUTH before CONNACK must be Continue authentication")),
        BeforeRow(testDescription: "AUTH with another method (MQTT-4.12.0-5)", packet: .auth(auth(.continueAuthentication, method: "PLAIN")),
                  awaitingStep: 2, expected: .refuse(.protocolError, reasonString: "Authentication Method differs from the CONNECT's")),
        BeforeRow(testDescription: "AUTH without a method", packet: .auth(auth(.continueAuthentication, method: nil)), awaitingStep: 2,
                  expected: .refuse(.protocolError, reasonString: "Authentication Method differs from the CONNECT's")),
        BeforeRow(testDescription: "DISCONNECT: the client gives up", packet: .disconnect(DisconnectPacket()), awaitingStep: 2,
                  expected: .close),
        BeforeRow(testDescription: "PINGREQ before CONNACK", packet: .pingReq, awaitingStep: 2,
                  expected: .refuse(.protocolError, reasonString: "only AUTH may follow CONNECT before CONNACK")),
    ]

    @Test(arguments: beforeRows)
    func beforeConnAck(_ row: BeforeRow) {
        let stage: AuthenticationStage = row.awaitingStep.map { .awaitingClient(step: $0) } ?? .idle
        #expect(AuthenticationExchange.beforeConnAck(row.packet, stage: stage, method: row.method) == row.expected)
    }

    struct ConnectedRow: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var auth: AuthPacket
        var awaitingStep: Int?
        var method: String? = "SCRAM-SHA-256"
        var expected: AuthenticationExchange.WhenConnected
    }

    static let connectedRows: [ConnectedRow] = [
        ConnectedRow(testDescription: "re-authentication starts (4.12.1)", auth: auth(.reAuthenticate), awaitingStep: nil, expected: .ask(step: 1)),
        ConnectedRow(testDescription: "its next step", auth: auth(.continueAuthentication), awaitingStep: 3, expected: .ask(step: 3)),
        ConnectedRow(testDescription: "a client that named no method (MQTT-4.12.0-7)", auth: auth(.reAuthenticate), awaitingStep: nil,
                     method: nil, expected: .disconnect(.protocolError, reasonString: "AUTH without an authentication method")),
        ConnectedRow(testDescription: "another method (MQTT-4.12.1-1)", auth: auth(.reAuthenticate, method: "PLAIN"), awaitingStep: nil,
                     expected: .disconnect(.protocolError, reasonString: "Authentication Method differs from the CONNECT's")),
        ConnectedRow(testDescription: "Continue when nothing was asked", auth: auth(.continueAuthentication), awaitingStep: nil,
                     expected: .disconnect(.protocolError, reasonString: "AUTH \(ReasonCode.continueAuthentication) out of turn")),
        ConnectedRow(testDescription: "Re-authenticate in the middle of an exchange", auth: auth(.reAuthenticate), awaitingStep: 2,
                     expected: .disconnect(.protocolError, reasonString: "AUTH \(ReasonCode.reAuthenticate) out of turn")),
    ]

    @Test(arguments: connectedRows)
    func whenConnected(_ row: ConnectedRow) {
        let stage: AuthenticationStage = row.awaitingStep.map { .awaitingClient(step: $0) } ?? .idle
        #expect(AuthenticationExchange.whenConnected(row.auth, stage: stage, method: row.method) == row.expected)
    }
}
