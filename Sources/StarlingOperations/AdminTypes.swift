import Foundation
import Hummingbird
import MQTT
import NIOCore
import StarlingBroker

// The admin API's JSON, as `Resources/openapi.json` describes it; names follow that document.

struct StatsBody: ResponseEncodable {
    struct Connections: Codable { var current: Int; var hibernating: Int; var accepted: UInt64 }
    struct Sessions: Codable { var current: Int; var offline: Int }
    struct Subscriptions: Codable { var current: Int; var shared: Int }
    struct Retained: Codable { var messages: Int; var bytes: Int }
    struct Messages: Codable { var received: UInt64; var sent: UInt64; var dropped: UInt64 }
    struct Bytes: Codable { var received: UInt64; var sent: UInt64 }
    struct Drops: Codable { var queueFull: UInt64; var queueBytesFull: UInt64; var tooLarge: UInt64; var expired: UInt64 }

    var time: Double
    var version: String
    var uptimeSeconds: Int64
    var connections: Connections
    var sessions: Sessions
    var subscriptions: Subscriptions
    var retained: Retained
    var messages: Messages
    var bytes: Bytes
    var drops: Drops

    init(_ statistics: BrokerStatistics) {
        time = Date().timeIntervalSince1970
        version = MQTTBroker.version
        uptimeSeconds = statistics.uptime
        connections = Connections(current: statistics.connectedClients, hibernating: statistics.hibernatingClients, accepted: statistics.acceptedConnections)
        sessions = Sessions(current: statistics.sessions, offline: statistics.offlineSessions)
        subscriptions = Subscriptions(current: statistics.subscriptions, shared: statistics.sharedSubscriptions)
        retained = Retained(messages: statistics.retainedMessages, bytes: statistics.retainedBytes)
        messages = Messages(received: statistics.messagesReceived, sent: statistics.messagesSent, dropped: statistics.messagesDropped)
        bytes = Bytes(received: statistics.bytesReceived, sent: statistics.bytesSent)
        let drops = statistics.drops
        self.drops = Drops(queueFull: drops.queueFull, queueBytesFull: drops.queueBytesFull, tooLarge: drops.tooLarge, expired: drops.expired)
    }
}

struct StatsSample: Codable, Sendable {
    var time: Double
    var connections: Int
    var messagesReceived: UInt64
    var messagesSent: UInt64
    var messagesDropped: UInt64
}

struct StatsHistoryBody: ResponseEncodable {
    var intervalSeconds: Double
    var samples: [StatsSample]
}

struct ClientBody: ResponseEncodable {
    var clientId: String
    var connected: Bool
    var userName: String?
    var address: String?
    var protocolVersion: String?
    var keepAlive: Int?
    var connectedSince: Double?
    var sessionExpiry: UInt32
    var subscriptions: Int
    var inflight: Int
    var queued: Int
    /// Only in `GET /clients/{id}`.
    var subscriptionList: [ClientSubscriptionBody]?

    init(_ client: ClientSnapshot, detailed: Bool = false) {
        clientId = client.clientIdentifier
        connected = client.isConnected
        userName = client.userName
        address = client.remoteAddress.map(Self.address)
        protocolVersion = switch client.protocolVersion {
        case .v3_1: "3.1"
        case .v3_1_1: "3.1.1"
        case .v5: "5.0"
        }
        keepAlive = client.keepAlive
        connectedSince = client.connectedSince.map(Double.init)
        sessionExpiry = client.sessionExpiryInterval
        subscriptions = client.subscriptions.count
        inflight = client.inflight
        queued = client.queued
        subscriptionList = detailed ? client.subscriptions.map(ClientSubscriptionBody.init) : nil
    }

    /// `host:port`, `[v6]:port` for IPv6.
    static func address(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress else { return "\(address)" }
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return address.port.map { "\(host):\($0)" } ?? host
    }
}

struct ClientSubscriptionBody: Codable {
    var filter: String
    var qos: Int
    var noLocal: Bool
    var retainAsPublished: Bool
    var retainHandling: Int
    var subscriptionIdentifier: Int?

    init(_ subscription: StoredSubscription) {
        filter = subscription.topicFilter
        qos = Int(subscription.options.qos.rawValue)
        noLocal = subscription.options.noLocal
        retainAsPublished = subscription.options.retainAsPublished
        retainHandling = Int(subscription.options.retainHandling.rawValue)
        subscriptionIdentifier = subscription.identifier
    }
}

struct Page<Item: Encodable & Sendable>: ResponseEncodable {
    var total: Int
    var offset: Int
    var limit: Int
    var items: [Item]
    /// The key the items go under: `clients`, `subscriptions`, `topics`, `messages`.
    var key: String

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(total, forKey: Key(stringValue: "total"))
        try container.encode(offset, forKey: Key(stringValue: "offset"))
        try container.encode(limit, forKey: Key(stringValue: "limit"))
        try container.encode(items, forKey: Key(stringValue: key))
    }
}

struct DisconnectionBody: ResponseEncodable {
    var clientId: String
    var disconnected: Bool
    var discarded: Bool
}

struct SubscriptionBody: Codable, Sendable {
    var clientId: String
    var filter: String
    var group: String?
    var qos: Int
}

struct TopicBody: Codable, Sendable {
    var filter: String
    var subscribers: Int
}

struct UserPropertyBody: Codable, Sendable {
    var name: String
    var value: String
}

struct MessagePropertiesBody: Codable, Sendable {
    var payloadFormatIndicator: Int?
    var messageExpiryInterval: Int64?
    var contentType: String?
    var responseTopic: String?
    var correlationData: String?
    var userProperties: [UserPropertyBody]?

    init(_ properties: Properties) {
        payloadFormatIndicator = properties.payloadFormatIndicator.map(Int.init)
        messageExpiryInterval = properties.messageExpiryInterval.map(Int64.init)
        contentType = properties.contentType
        responseTopic = properties.responseTopic
        correlationData = properties.correlationData.map { Data($0.readableBytesView).base64EncodedString() }
        let users = properties.userProperties
        userProperties = users.isEmpty ? nil : users.map { UserPropertyBody(name: $0.key, value: $0.value) }
    }

    var isEmpty: Bool {
        payloadFormatIndicator == nil && messageExpiryInterval == nil && contentType == nil && responseTopic == nil
            && correlationData == nil && userProperties == nil
    }
}

struct RetainedBody: ResponseEncodable {
    var topic: String
    var qos: Int
    var payloadSize: Int
    var payload: String?
    var payloadBase64: String
    var properties: MessagePropertiesBody?

    init(_ message: Message) {
        topic = message.topic
        qos = Int(message.qos.rawValue)
        payloadSize = message.payload.readableBytes
        let bytes = Array(message.payload.readableBytesView)
        payload = String(validating: bytes, as: UTF8.self)
        payloadBase64 = Data(bytes).base64EncodedString()
        let properties = MessagePropertiesBody(message.properties)
        self.properties = properties.isEmpty ? nil : properties
    }
}

struct PublishResultBody: ResponseEncodable {
    var topic: String
    var qos: Int
    var retain: Bool
    var payloadSize: Int
}

struct BridgesBody: ResponseEncodable {
    struct Bridge: Codable {
        var name: String
        var up: Bool
        var forwardedOut: UInt64
        var forwardedIn: UInt64
    }

    var bridges: [Bridge]
}

struct NodesBody: ResponseEncodable {
    struct Node: Codable {
        var name: String
        var address: String
        var alive: Bool
        var `self`: Bool
        var linked: Bool
        var routes: Int
        var forwardedFrom: UInt64
    }

    var clustered: Bool
    var nodes: [Node]
}
