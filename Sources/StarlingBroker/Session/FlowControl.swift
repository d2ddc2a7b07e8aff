/// How a subscriber that falls behind slows the clients publishing to it, instead of the broker dropping what
/// it acknowledged to them (see `BrokerConfiguration.Limits.flowControl`).
///
/// Once `highWater` messages (or half of `Limits.maximumQueuedBytes`) wait in a connected session's queue, a
/// connection whose PUBLISH is routed to that
/// session has its acknowledgements withheld: its messages are still routed as they come (so that they reach
/// the subscriber in order of arrival, whoever sent them), but the client, waiting for acknowledgements, stops
/// at its window (a 5.0 client at its Receive Maximum); once `maximumWithheldAcknowledgements` are withheld,
/// the broker stops reading the socket, so TCP pushes back on any client; a client publishing at QoS 0, which
/// has no acknowledgement to withhold, is no longer read at once. Acknowledgements and pings the client
/// sends meanwhile are still handled. The acknowledgements go out when the queue is down to `lowWater` (and a
/// quarter of `Limits.maximumQueuedBytes`), or its
/// client is gone: the queue of a session whose client is away is bounded by `maximumQueuedMessages` instead.
///
/// A client whose own session is congested never waits, so that no chain of clients waiting for one another
/// can close on itself: its messages may push other queues past `highWater`, up to `maximumQueued`. A client
/// publishing to itself does not wait for itself either. A subscriber that stays congested for
/// `Limits.drainTimeout` without acknowledging anything is disconnected, so that it cannot hold the others up
/// for longer.
public struct FlowControl: Sendable, Hashable {
    /// Messages queued for a connected session at which the clients publishing to it are slowed.
    public var highWater: Int
    /// Messages queued at which they go on.
    public var lowWater: Int
    /// Messages queued for a connected session in all; beyond it, messages to the session are dropped as queue
    /// full. A queue passes `highWater` by what its publishers send before their windows close (at most
    /// `maximumWithheldAcknowledgements` each, a read burst more on other event loops), and by the messages of
    /// clients that do not wait.
    public var maximumQueued: Int
    /// Acknowledgements withheld from a slowed client before its socket stops being read.
    public var maximumWithheldAcknowledgements: Int

    /// Flow control with the given marks; the defaults slow publishers at 100 queued messages, let them go on at
    /// 50, drop beyond 100,000, and stop reading a slowed client after 100 withheld acknowledgements.
    public init(highWater: Int = 100, lowWater: Int = 50, maximumQueued: Int = 100_000, maximumWithheldAcknowledgements: Int = 100) {
        self.highWater = highWater
        self.lowWater = lowWater
        self.maximumQueued = maximumQueued
        self.maximumWithheldAcknowledgements = maximumWithheldAcknowledgements
    }
}
