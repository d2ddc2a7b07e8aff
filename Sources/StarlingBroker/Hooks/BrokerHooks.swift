import MQTT
import NIOCore

/// The extension points an embedding application can set (`MQTTBroker(hooks:)`) beside the authenticator, each
/// optional: the broker calls only those that are set, so an unset one costs nothing on the publish path.
///
/// Every hook is called outside the event loops and may await I/O. The client's later packets wait until it
/// answers, so its packets keep their order. A hook that throws, or does not answer within `timeout`, denies
/// (Not authorized) and is logged.
public struct BrokerHooks: Sendable {
    /// Asked about every CONNECT before authentication.
    public var preConnect: (any PreConnectCheck)?
    /// Asked about every PUBLISH (after the ACL allowed it); may let it through, rewrite it or refuse it.
    public var publishAuthorizer: (any PublishAuthorizer)?
    /// Asked about each subscription of a SUBSCRIBE in turn, before any of them takes effect; may lower its QoS
    /// or refuse it. An ACL's refusal stands whatever it answers.
    public var subscribeAuthorizer: (any SubscribeAuthorizer)?
    /// Told, in order, what clients did; never delays them.
    public var observer: (any BrokerObserver)?
    /// How long `preConnect`, `publishAuthorizer` and `subscribeAuthorizer` may take over one answer.
    public var timeout: TimeAmount = .seconds(5)

    public init(
        preConnect: (any PreConnectCheck)? = nil, publishAuthorizer: (any PublishAuthorizer)? = nil,
        subscribeAuthorizer: (any SubscribeAuthorizer)? = nil, observer: (any BrokerObserver)? = nil,
        timeout: TimeAmount = .seconds(5)
    ) {
        self.preConnect = preConnect
        self.publishAuthorizer = publishAuthorizer
        self.subscribeAuthorizer = subscribeAuthorizer
        self.observer = observer
        self.timeout = timeout
    }
}

/// Who a client is, as hooks see it.
public struct ClientInfo: Sendable, Hashable {
    public var clientIdentifier: String
    public var userName: String?
    public var protocolVersion: ProtocolVersion
    public var remoteAddress: SocketAddress?

    public init(clientIdentifier: String, userName: String? = nil, protocolVersion: ProtocolVersion, remoteAddress: SocketAddress? = nil) {
        self.clientIdentifier = clientIdentifier
        self.userName = userName
        self.protocolVersion = protocolVersion
        self.remoteAddress = remoteAddress
    }
}

/// Decides, before authentication, whether a CONNECT is worth considering (aedes' `preConnect`): for bans,
/// maintenance windows, client identifier rules.
public protocol PreConnectCheck: Sendable {
    /// Return nil to go on, or the reason code (0x80 or above) to refuse the client with.
    func check(_ client: ClientInfo, connect: ConnectPacket) async throws -> ReasonCode?
}

public enum PublishAuthorization: Sendable, Hashable {
    case allow
    /// Routes this message instead (another topic, payload or properties); its `publisher` and the QoS the
    /// client acknowledges stay those of the PUBLISH.
    case rewrite(Message)
    /// 5.0: PUBACK or PUBREC with `reason` (0x80 or above, else Not authorized); QoS 0 and 3.1.1 messages are
    /// dropped, as there is no way to tell the client.
    case refuse(ReasonCode = .notAuthorized)
}

public protocol PublishAuthorizer: Sendable {
    func authorizePublish(_ message: Message, from client: ClientInfo) async throws -> PublishAuthorization
}

public enum SubscribeAuthorization: Sendable, Hashable {
    case allow
    /// Grants at most this QoS.
    case downgrade(QoS)
    /// 5.0: SUBACK with `reason` (0x80 or above, else Not authorized); 3.1.1: Failure (0x80).
    case refuse(ReasonCode = .notAuthorized)
}

public protocol SubscribeAuthorizer: Sendable {
    /// `filter` is the filter as sent, `$share/NAME/` prefix included.
    func authorizeSubscribe(_ filter: String, options: SubscriptionOptions, for client: ClientInfo) async throws -> SubscribeAuthorization
}

/// Told what happens, in the order it happened; each method defaults to doing nothing. Calls are queued (the
/// newest `BrokerObserverFeed.capacity` kept) and made one at a time outside the event loops.
public protocol BrokerObserver: Sendable {
    func clientConnected(_ client: ClientInfo) async
    func clientDisconnected(_ client: ClientInfo) async
    func subscribed(_ client: ClientInfo, topicFilters: [String]) async
    func unsubscribed(_ client: ClientInfo, topicFilters: [String]) async
    /// A message accepted for routing: from a client (`publisher` set), a will, or the application.
    func published(_ message: Message) async
}

extension BrokerObserver {
    public func clientConnected(_ client: ClientInfo) async {}
    public func clientDisconnected(_ client: ClientInfo) async {}
    public func subscribed(_ client: ClientInfo, topicFilters: [String]) async {}
    public func unsubscribed(_ client: ClientInfo, topicFilters: [String]) async {}
    public func published(_ message: Message) async {}
}
