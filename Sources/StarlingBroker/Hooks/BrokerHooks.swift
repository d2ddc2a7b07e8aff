import CoreMetrics
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
    /// Where the broker records its latencies, through swift-metrics: `starling_store_commit_duration_seconds`
    /// (each commit of the store) and `starling_delivery_duration_seconds` (from a PUBLISH read to the flush of
    /// the connections it was written to, one message in 64 on each event loop). Nil records nothing. Counters
    /// and gauges are not pushed here: `MQTTBroker.statistics()` gathers them when asked.
    public var metrics: (any MetricsFactory)?
    /// The cluster this broker is a node of; nil for a broker on its own.
    public var cluster: (any ClusterRouting)?

    /// Hooks with the given extension points, none by default, and `timeout` (5 seconds by default) for each
    /// answer.
    public init(
        preConnect: (any PreConnectCheck)? = nil, publishAuthorizer: (any PublishAuthorizer)? = nil,
        subscribeAuthorizer: (any SubscribeAuthorizer)? = nil, observer: (any BrokerObserver)? = nil,
        timeout: TimeAmount = .seconds(5), metrics: (any MetricsFactory)? = nil, cluster: (any ClusterRouting)? = nil
    ) {
        self.cluster = cluster
        self.preConnect = preConnect
        self.publishAuthorizer = publishAuthorizer
        self.subscribeAuthorizer = subscribeAuthorizer
        self.observer = observer
        self.timeout = timeout
        self.metrics = metrics
    }
}

/// Who a client is, as hooks see it.
public struct ClientInfo: Sendable, Hashable {
    /// The client identifier the session goes by: the one in CONNECT, the one the broker assigned to an empty
    /// one (MQTT-3.1.3-6), or, once the client is in, the one a `ClientIdentifierBinding` made of the user name.
    public var clientIdentifier: String
    /// Who the client authenticated as: the CONNECT's User Name, or the one the authenticator or the client
    /// certificate gave it; nil for anonymous clients. A `PreConnectCheck`, asked before authentication, sees
    /// the CONNECT's User Name as sent.
    public var userName: String?
    /// The MQTT version the client connected with.
    public var protocolVersion: ProtocolVersion
    /// The client's address; on a listener with the PROXY protocol, the one the proxy reported. Nil when the
    /// channel has none.
    public var remoteAddress: SocketAddress?

    /// A client as hooks would see it, for tests of hooks and for hooks that call one another.
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

/// A `PublishAuthorizer`'s answer about one PUBLISH.
public enum PublishAuthorization: Sendable, Hashable {
    /// Routes the message as the client published it.
    case allow
    /// Routes this message instead (another topic, payload or properties); its `publisher` and the QoS the
    /// client acknowledges stay those of the PUBLISH.
    case rewrite(Message)
    /// 5.0: PUBACK or PUBREC with `reason` (0x80 or above, else Not authorized); QoS 0 and 3.1.1 messages are
    /// dropped, as there is no way to tell the client.
    case refuse(ReasonCode = .notAuthorized)
}

/// Decides about each PUBLISH a client sends once the access control list has allowed it (aedes'
/// `authorizePublish`), set as `BrokerHooks.publishAuthorizer`. Wills and the application's own publishes are
/// not asked about.
public protocol PublishAuthorizer: Sendable {
    /// Allows, rewrites or refuses `message` from `client`; throwing refuses it with Not authorized.
    func authorizePublish(_ message: Message, from client: ClientInfo) async throws -> PublishAuthorization
}

/// A `SubscribeAuthorizer`'s answer about one subscription of a SUBSCRIBE.
public enum SubscribeAuthorization: Sendable, Hashable {
    /// Grants the subscription at the QoS asked for (or `BrokerConfiguration.maximumQoS`, if lower).
    case allow
    /// Grants at most this QoS.
    case downgrade(QoS)
    /// 5.0: SUBACK with `reason` (0x80 or above, else Not authorized); 3.1.1: Failure (0x80).
    case refuse(ReasonCode = .notAuthorized)
}

/// Decides about each subscription a client asks for (aedes' `authorizeSubscribe`), set as
/// `BrokerHooks.subscribeAuthorizer`. It is asked before the access control list is consulted, and the list's
/// refusal stands whatever it answers.
public protocol SubscribeAuthorizer: Sendable {
    /// `filter` is the filter as sent, `$share/NAME/` prefix included.
    func authorizeSubscribe(_ filter: String, options: SubscriptionOptions, for client: ClientInfo) async throws -> SubscribeAuthorization
}

/// Told what happens, in the order it happened; each method defaults to doing nothing. Calls are queued (the
/// newest 100,000 kept, older ones dropped) and made one at a time outside the event loops, so a slow observer
/// delays no client. Set it as `BrokerHooks.observer`; `MQTTBroker.events(bufferingNewest:)` tells the same
/// as a stream.
public protocol BrokerObserver: Sendable {
    /// The broker accepted `client` and sent it CONNACK 0x00.
    func clientConnected(_ client: ClientInfo) async
    /// The connection of `client` ended; its session may live on. As for `BrokerEvent.clientDisconnected`, a
    /// connection taken over by a new one with the same client identifier is reported too, before the new one.
    func clientDisconnected(_ client: ClientInfo) async
    /// A SUBSCRIBE of `client` took effect; `topicFilters` are the filters granted, as sent.
    func subscribed(_ client: ClientInfo, topicFilters: [String]) async
    /// An UNSUBSCRIBE of `client` was handled; `topicFilters` are the filters it named.
    func unsubscribed(_ client: ClientInfo, topicFilters: [String]) async
    /// A message accepted for routing: from a client (`publisher` set), a will, or the application.
    func published(_ message: Message) async
}

extension BrokerObserver {
    /// Does nothing.
    public func clientConnected(_ client: ClientInfo) async {}
    /// Does nothing.
    public func clientDisconnected(_ client: ClientInfo) async {}
    /// Does nothing.
    public func subscribed(_ client: ClientInfo, topicFilters: [String]) async {}
    /// Does nothing.
    public func unsubscribed(_ client: ClientInfo, topicFilters: [String]) async {}
    /// Does nothing.
    public func published(_ message: Message) async {}
}
