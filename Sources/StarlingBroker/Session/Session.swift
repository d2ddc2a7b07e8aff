import MQTT
import NIOCore
import Synchronization

/// The state the broker keeps for one client identifier, which outlives any one connection: subscriptions,
/// QoS 1/2 messages in flight and queued, the will, and the expiry.
///
/// A session lives on one event loop at a time, the loop of its current (or last) connection. When a client
/// reconnects on another loop the session is handed over: the old loop lets go of it, the home index moves,
/// then the new loop takes it up.
final class Session: @unchecked Sendable {
    // Sendable proof: `clientIdentifier` and `homeIndex` are immutable or atomic; every other member is read and
    // written only on the event loop named by `homeIndex`, which the broker checks before touching it (deliveries
    // that arrive on another loop are forwarded, see `BrokerLoop.deliver`), and the hand-over between loops is
    // ordered: the old loop's last access happens-before the index moves, which happens-before the new loop's first.
    // The atomics are `Atomic` rather than `ManagedAtomic`: stored in the object, not in four objects of their own
    // (about 130 bytes less for every session).
    // The fields marked `@exclusivity(unchecked)` are the ones every delivery touches. Each access to them is a
    // read, an assignment, or a mutation by a method of the value's own type that calls nothing back: no two can
    // overlap, so the run-time exclusivity checks are left out.
    let clientIdentifier: String
    /// The index of the event loop that owns this session.
    let homeIndex: Atomic<Int>

    @exclusivity(unchecked) var connection: ConnectionHandler? {
        didSet { isConnected.store(connection != nil, ordering: .relaxed) }
    }
    /// Whether a client is connected to this session now; read from every loop, so that a shared subscription's
    /// group prefers members that can take a message at once.
    let isConnected = Atomic(false)
    @exclusivity(unchecked) var version: ProtocolVersion = .v3_1_1
    /// Seconds the session outlives its connection; `UInt32.max` never expires.
    var expiryInterval: UInt32 = 0
    /// False once the session has ended; deliveries to it are then dropped.
    @exclusivity(unchecked) var isAlive = true
    /// Whether the session is stored: read by the loops that route to it, set on its own loop.
    let isStored = Atomic(false)
    /// In a cluster, a session that ends with its connection but has a will: only it and its will are stored,
    /// so that another node publishes the will should this one die. Set and read on its own loop.
    let isWillStored = Atomic(false)
    /// Whether its client is connected and its queue reached `FlowControl.highWater`: read by the loops that
    /// route to it, whose publishers then wait; set on its own loop, cleared through `CongestionWaiters`.
    let isCongested = Atomic(false)
    @exclusivity(unchecked) private var lastPacketIdentifier: UInt16 = 0
    /// `sendWindow` in the two bytes beside `lastPacketIdentifier`, which would otherwise be padding: a Receive
    /// Maximum is 16 bits.
    @exclusivity(unchecked) private var window: UInt16 = 20

    /// The session's subscriptions, by the bytes of the filter as sent (validated when subscribed: see
    /// `TopicFilter(validated:)`), each with its options and identifier packed in one word.
    var subscriptions: [ExactString: PackedSubscription] = [:]

    // Outbound QoS 1 and 2 flows, in the order they were sent (MQTT-4.6.0-1).
    @exclusivity(unchecked) var inflight = InflightWindow()
    @exclusivity(unchecked) var queue = MessageQueue()
    /// The client's Receive Maximum and the broker's own limit, whichever is lower.
    var sendWindow: Int {
        get { Int(window) }
        set { window = UInt16(clamping: newValue) }
    }

    /// Inbound QoS 2 packet identifiers that got PUBREC and await PUBREL (method A of 4.3.3).
    var receivedQoS2: Set<UInt16> = []

    /// The sequence number of the next delivery recorded for the store.
    let nextSequence = Atomic<UInt64>(1)


    var will: ConnectPacket.Will? {
        get { occasional?.will }
        set { if newValue != nil || occasional != nil { occasionalState.will = newValue } }
    }
    var expiryTask: Scheduled<Void>? {
        get { occasional?.expiryTask }
        set { if newValue != nil || occasional != nil { occasionalState.expiryTask = newValue } }
    }
    var willTask: Scheduled<Void>? {
        get { occasional?.willTask }
        set { if newValue != nil || occasional != nil { occasionalState.willTask = newValue } }
    }
    var droppedMessages: Int {
        get { occasional?.droppedMessages ?? 0 }
        set { occasionalState.droppedMessages = newValue }
    }
    var nextDropLog: NIODeadline {
        get { occasional?.nextDropLog ?? .uptimeNanoseconds(0) }
        set { occasionalState.nextDropLog = newValue }
    }
    /// While congested: when to check that the client acknowledged something since the last check.
    var congestionCheck: Scheduled<Void>? {
        get { occasional?.congestionCheck }
        set { if newValue != nil || occasional != nil { occasionalState.congestionCheck = newValue } }
    }
    var acknowledgedWhileCongested: Bool {
        get { occasional?.acknowledgedWhileCongested ?? false }
        set { if newValue || occasional != nil { occasionalState.acknowledgedWhileCongested = newValue } }
    }

    /// What only some sessions need — a will, the timers of a session or a will that waits, the state of the
    /// drop log and of a congestion — kept apart, so that a session without them carries one nil pointer instead of about 130 bytes
    /// of fields. Touched on the session's loop only, like the rest.
    private final class Occasional {
        var will: ConnectPacket.Will?
        var expiryTask: Scheduled<Void>?
        var willTask: Scheduled<Void>?
        var droppedMessages = 0
        var nextDropLog = NIODeadline.uptimeNanoseconds(0)
        var congestionCheck: Scheduled<Void>?
        var acknowledgedWhileCongested = false
    }
    private var occasional: Occasional?
    private var occasionalState: Occasional {
        if let occasional { return occasional }
        let state = Occasional()
        occasional = state
        return state
    }

    struct Outbound {
        var delivery: Delivery
        /// True once PUBREC arrived and PUBREL was sent.
        var released = false
    }

    init(clientIdentifier: String, homeIndex: Int) {
        self.clientIdentifier = clientIdentifier
        self.homeIndex = Atomic(homeIndex)
        if clientIdentifier.isClusterLink { nextSequence.store(Self.linkSequenceFloor(), ordering: .relaxed) }
    }

    /// Where a cluster link session's sequence numbers start: the node at the other end records which it has taken
    /// by sequence number, so a link session never numbers two deliveries alike, across restarts too. 2^20 numbers
    /// a millisecond: a restart later starts above any number used before unless the session took over a million
    /// deliveries a second on average since it started.
    static func linkSequenceFloor() -> UInt64 {
        UInt64(max(0, WallClockTime.now().millisecondsSinceEpoch)) << 20
    }

    /// What a group should hand to another member now that this session ends (4.8.2): the QoS 1 messages in flight
    /// and every queued message that came by a shared subscription. A QoS 2 message already sent stays lost, as
    /// MQTT-4.8.2-5 forbids sending it to another client.
    func unfinishedSharedDeliveries() -> [Delivery] {
        var unfinished: [Delivery] = []
        for outbound in inflight.values where Self.canHandBack(outbound) { unfinished.append(outbound.delivery) }
        for delivery in queue where delivery.share != nil { unfinished.append(delivery) }
        return unfinished
    }

    /// Takes out of this session the deliveries of shared subscriptions that `handOver` gives to another member,
    /// in the order they were sent or queued; those it declines stay.
    func handOverSharedDeliveries(_ handOver: (Delivery) -> Bool) {
        for (identifier, outbound) in inflight where Self.canHandBack(outbound) {
            if handOver(outbound.delivery) { inflight.removeValue(forKey: identifier) }
        }
        guard queue.contains(where: { $0.share != nil }) else { return }
        var kept = MessageQueue()
        for delivery in queue where delivery.share == nil || !handOver(delivery) { kept.append(delivery) }
        queue = kept
    }

    private static func canHandBack(_ outbound: Outbound) -> Bool {
        outbound.delivery.share != nil && outbound.delivery.qos == .atLeastOnce
    }

    func nextPacketIdentifier() -> UInt16? {
        guard inflight.count < Int(UInt16.max) - 1 else { return nil }
        repeat {
            lastPacketIdentifier = lastPacketIdentifier == UInt16.max ? 1 : lastPacketIdentifier + 1
        } while inflight[lastPacketIdentifier] != nil
        return lastPacketIdentifier
    }
}

/// A message on its way to one session, at the QoS and with the flags its subscription gives it.
struct Delivery: Sendable {
    var message: Message
    var qos: QoS
    var retain: Bool
    var subscriptionIdentifiers: [Int]
    /// The shared subscription it was routed by, whose group takes it back if this session ends before it is done.
    var share: TopicFilter? = nil
    /// Its number among the session's stored deliveries; 0 when it is not stored.
    var sequence: UInt64 = 0
}
