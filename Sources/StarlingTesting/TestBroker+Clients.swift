import MQTT
import StarlingBroker

extension TestBroker {
    /// Connects a raw client and checks that the broker accepts it.
    public func connect(
        _ clientIdentifier: String, version: ProtocolVersion = .v5, cleanStart: Bool = true, keepAlive: UInt16 = 0,
        will: ConnectPacket.Will? = nil, properties: Properties = []
    ) async throws -> (client: RawClient, connAck: ConnAckPacket) {
        let client = try await RawClient.open(port: port, version: version)
        try await client.send(.connect(ConnectPacket(
            protocolVersion: version, clientIdentifier: clientIdentifier, cleanStart: cleanStart, keepAlive: keepAlive,
            will: will, properties: properties)))
        let connAck = try await client.expectConnAck()
        guard connAck.reasonCode == .success else {
            throw RawClient.Failure(description: "CONNECT of \(clientIdentifier) refused: \(connAck)")
        }
        return (client, connAck)
    }

    /// Connects a raw client and returns only the client.
    public func client(
        _ clientIdentifier: String, version: ProtocolVersion = .v5, cleanStart: Bool = true,
        will: ConnectPacket.Will? = nil, properties: Properties = []
    ) async throws -> RawClient {
        try await connect(clientIdentifier, version: version, cleanStart: cleanStart, will: will, properties: properties).client
    }

    /// Opens a TCP connection that has sent nothing yet.
    public func open(version: ProtocolVersion = .v5) async throws -> RawClient {
        try await RawClient.open(port: port, version: version)
    }

    /// Waits until the broker's statistics show what `condition` looks for; fails after `timeout`, naming `what`.
    public func waitForStatistics(_ what: String, timeout: Duration = .seconds(20), until condition: (BrokerStatistics) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(try await broker.statistics()) {
            guard ContinuousClock.now < deadline else {
                throw RawClient.Failure(description: "\(what): not within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the broker counts `count` connected clients: a connection it ended is no longer counted.
    public func waitForConnectedClients(_ count: Int) async throws {
        try await waitForStatistics("\(count) connected clients") { $0.connectedClients == count }
    }
}
