import MQTT
import NIOCore

/// Everything an embedding application or the `starling` command can set, as plain values; every limit is
/// bounded by default. The objects the broker calls out to (authenticator, access control, store, hooks) are
/// given to `MQTTBroker`'s initializer instead, so that a configuration can be compared, copied and logged.
public struct BrokerConfiguration: Sendable, Hashable {
    /// Where the broker accepts connections.
    public var listeners: [Listener]
    /// Bounds on what clients may send, hold and cost; every one has a finite default.
    public var limits: Limits
    /// Sent as Response Information to 5.0 clients that ask for it with Request Response Information.
    public var responseInformation: String?
    /// Whether QoS 0 messages are queued for offline persistent sessions; off by default. The specifications leave
    /// it to the server: a session's state may include them (3.1.2.4 of 3.1.1, 4.1 of 5.0).
    public var queueQoS0WhileOffline: Bool
    /// When QoS 1 and 2 messages are acknowledged relative to their commit to the broker's store.
    public var durability = Durability.everyAck
    /// Whether clients without a user name (nor an Authentication Method or a verified client certificate) get
    /// in. nil, the default, lets them in only while the broker has no authenticator: configuring passwords or a
    /// hook closes the broker to anonymous clients unless this is true. When true, the authenticator is not
    /// asked about them.
    public var allowAnonymous: Bool?
    /// Whether a client's identifier must follow from its user name; by default it need not.
    public var clientIdentifierBinding = ClientIdentifierBinding.unbound

    // What the broker supports, announced to 5.0 clients in CONNACK (3.2.2.3) and enforced for every client.

    /// Retained messages; when off, a PUBLISH or will with RETAIN 1 is refused with 0x9A.
    public var retainAvailable = true
    /// Subscriptions with `+` or `#`; when off, a 5.0 client subscribing with one is disconnected with 0xA2.
    public var wildcardSubscriptionAvailable = true
    /// Subscription Identifiers; when off, a SUBSCRIBE carrying one is answered with DISCONNECT 0xA1.
    public var subscriptionIdentifiersAvailable = true
    /// `$share/` subscriptions; when off, a 5.0 client subscribing with one is disconnected with 0x9E.
    public var sharedSubscriptionAvailable = true
    /// The highest QoS accepted in PUBLISH and wills (0x9B above it) and granted to subscriptions.
    public var maximumQoS = QoS.exactlyOnce
    /// How a shared subscription's group picks the member that receives a message.
    public var sharedSubscriptionPolicy = SharedSubscriptionPolicy.roundRobin
    /// How often the statistics are published as retained messages under `$SYS/broker/`; nil publishes none.
    public var systemTopicsInterval: TimeAmount? = .seconds(10)

    /// Which member of a `$share/{group}/{filter}` group receives each message (MQTT 5.0 4.8.2; also offered to
    /// 3.1.1 clients, as Mosquitto does).
    public enum SharedSubscriptionPolicy: Sendable, Hashable {
        /// The members in turn.
        case roundRobin
        /// The same member for every message of one publisher while the group's members stay the same, so
        /// that its messages are handled in order; in-process publishes go round robin.
        case hashByClient
    }

    /// A configuration with `listeners` (by default one plain TCP listener on 0.0.0.0:1883), `limits` and the
    /// defaults of every other field: every feature available, anonymous clients let in while there is no
    /// authenticator, `$SYS` topics every 10 seconds, `Durability.everyAck`.
    public init(
        listeners: [Listener] = [Listener()], limits: Limits = Limits(), responseInformation: String? = nil,
        queueQoS0WhileOffline: Bool = false
    ) {
        self.listeners = listeners
        self.limits = limits
        self.responseInformation = responseInformation
        self.queueQoS0WhileOffline = queueQoS0WhileOffline
    }

    /// What one client, one address or the whole broker may use, each with a default that bounds it. Sizes are
    /// in bytes, durations `TimeAmount`s, rates per second.
    public struct Limits: Sendable, Hashable {
        /// The largest packet accepted from a client, fixed header included; announced as Maximum Packet Size.
        public var maximumPacketSize: Int = 1_048_576
        /// QoS 1 and 2 messages sent to a session and not yet acknowledged (lowered to the client's Receive Maximum).
        public var maximumInflight: Int = 20
        /// Messages queued for a session while its client is away (and, without `flowControl`, while connected).
        public var maximumQueuedMessages: Int = 1_000
        /// Slowing publishers down to the pace of the subscribers they feed; nil drops messages to a connected
        /// session beyond `maximumQueuedMessages` instead.
        public var flowControl: FlowControl? = FlowControl()
        /// Payload bytes queued for a session, connected or not, as Mosquitto's `max_queued_bytes`; beyond it
        /// messages to the session are dropped as `MessageDrops.queueBytesFull` (at most 2 GiB; a message larger
        /// than the limit is still queued when nothing else is). With `flowControl`, publishers
        /// are slowed once half of it waits, so a subscriber that keeps reading does not reach it. 64 MiB: a
        /// stalled subscriber costs at most that, while half of it still holds 128 messages of 256 KiB, far more
        /// than the socket takes at once, so the subscriber's socket never waits for the queue.
        public var maximumQueuedBytes: Int = 64 << 20
        /// Bytes written to a connection's socket and not yet sent past which its channel is unwritable: later
        /// messages wait in its session's queue, and reading from the connection stops until its client reads.
        public var maximumOutboundBytes: Int = 1_048_576
        /// How long a connection may stay unwritable (its reader stalled) before it is closed.
        public var drainTimeout: TimeAmount = .seconds(60)
        /// Concurrent client connections.
        public var maximumConnections: Int = 100_000
        /// Bytes in a topic name or filter.
        public var maximumTopicLength: Int = 65_535
        /// Levels in a topic name or filter.
        public var maximumTopicLevels: Int = 200
        /// Subscriptions one session may hold.
        public var maximumSubscriptionsPerClient: Int = 10_000
        /// The longest keep alive accepted; 5.0 clients asking for more (or for none) are told Server Keep Alive,
        /// 3.1.1 clients are refused, as Mosquitto does.
        public var maximumKeepAlive: UInt16 = 65_535
        /// Unacknowledged QoS 2 PUBLISH packets a client may send; announced as Receive Maximum.
        public var receiveMaximum: UInt16 = 1_024
        /// Topic aliases a 5.0 client may use towards the broker; announced as Topic Alias Maximum.
        public var topicAliasMaximum: UInt16 = 64
        /// Topic aliases the broker uses towards a 5.0 client, at most the client's Topic Alias Maximum; 0 uses none.
        public var maximumOutboundTopicAliases: UInt16 = 256
        /// How long a connection must stay idle — nothing read or written, nothing awaited — before it hibernates
        /// (it does within twice this): its SwiftNIO channel is let go of and only its socket and session are
        /// kept, until the client sends something other than a ping or an acknowledgement (messages for it are
        /// written straight to the socket). Plain TCP listeners only; nil keeps every connection awake.
        public var hibernateAfter: TimeAmount? = .seconds(10)
        /// Awake connections beyond which idle ones hibernate sooner: while more than this many (shared evenly
        /// among the event loops) are awake, a connection hibernates once it has been idle for a few tenths of a
        /// second rather than `hibernateAfter` — unless it has shown that it does not stay idle, by waking less
        /// than `hibernateAfter` after it was last active. A crowd connecting at once, after a restart say, then
        /// costs memory for the connections at work, not for all of them. Nil: always `hibernateAfter`.
        public var hibernateQuicklyAbove: Int? = 1_000
        /// How long a socket may stay open without sending CONNECT.
        public var connectTimeout: TimeAmount = .seconds(10)
        /// Bytes of the HTTP request that asks a WebSocket listener for the upgrade, request line and headers
        /// together; beyond it the client is answered 431 (Request Header Fields Too Large) and the connection
        /// closed.
        public var maximumUpgradeHeadBytes: Int = 16_384
        /// Memory freed after a wave of connections (a flood of stalled TLS handshakes, say) stays with the
        /// allocator unless given back: checked every `interval`, once at least `afterConnections` connections
        /// have been accepted since it was last given back and the wave has passed (fewer than that many in the
        /// last interval), the allocator returns its free pages to the system. Nil never does. Linux (glibc) only.
        public var freedMemoryReturn: FreedMemoryReturn? = FreedMemoryReturn()
        /// How long the authenticator may take over one decision before the client is refused with 0x87 / 0x05.
        public var authenticationTimeout: TimeAmount = .seconds(10)
        /// Bytes in a client identifier.
        public var maximumClientIdentifierLength: Int = 65_535
        /// Sessions kept at once, connected or waiting for their client; a new client identifier beyond it is
        /// refused with 0x97 (Quota exceeded) / 0x03 (Server unavailable).
        public var maximumSessions: Int = 1_000_000
        /// Retained messages kept at once; beyond it a message on a new topic is delivered but not retained.
        public var maximumRetainedMessages: Int = 1_000_000
        /// Payload bytes of all retained messages together; beyond it a new retained message is not kept.
        public var maximumRetainedBytes: Int = 1 << 30
        /// Bytes in the payload of a PUBLISH; nil leaves only `maximumPacketSize`. Larger messages are refused
        /// with Quota exceeded (0x97) in PUBACK / PUBREC for 5.0, dropped for QoS 0 and for 3.1.1.
        public var maximumPayloadSize: Int?
        /// PUBLISH packets per second one connection may send; beyond it they are handled as for `maximumPayloadSize`.
        public var publishRate: RateLimit?
        /// Payload bytes per second one connection may publish; beyond it as for `publishRate`.
        public var publishBandwidth: RateLimit?
        /// CONNECT packets per second from one IP address; beyond it the client is refused with Connection rate
        /// exceeded (0x9F; 3.1.1: Server unavailable, 0x03).
        public var connectionRatePerAddress: RateLimit?
        /// Refused logins per second from one IP address; once they are used up, later CONNECTs from it are
        /// refused as for `connectionRatePerAddress` without asking the authenticator. An attempt takes one when
        /// it starts and gives it back if it succeeds, so no more than the burst of guesses is ever under way at
        /// once. By default 10, then one every 6 seconds.
        public var failedLoginsPerAddress: RateLimit? = RateLimit(perSecond: 1.0 / 6, burst: 10)
        /// Decisions of the authenticator under way at once (each password check is a deliberately slow hash);
        /// a CONNECT beyond it is refused at once with Connection rate exceeded (0x9F; 3.1.1: 0x03), so that a
        /// flood of bad logins cannot queue work without end ahead of legitimate ones. nil: no bound.
        public var maximumAuthentications: Int? = 4 * System.coreCount
        /// Decisions under way at once for clients from one IP address, refused as for `maximumAuthentications`:
        /// one address cannot take every slot. nil: no bound.
        public var maximumAuthenticationsPerAddress: Int? = 4

        /// The defaults given with each limit.
        public init() {}

        var topicLimits: TopicLimits {
            TopicLimits(maximumLength: maximumTopicLength, maximumLevels: maximumTopicLevels)
        }
    }
}
