import DequeModule
import MQTT
import NIOCore

/// What a connection keeps while under pressure, made only then, so that an idle connection carries one nil
/// pointer for it: the drain timeout while its client does not read what it is sent, and the acknowledgements
/// withheld while a session it publishes to is congested (see `FlowControl`).
final class ConnectionPressure {
    /// Closes the connection if its client does not read again in time.
    var drainTimeout: Scheduled<Void>?
    /// The congested session this connection waits for; nil when it does not.
    var congestedSession: Session?
    /// Acknowledgements of what the client published while waiting (and anything sent after them that must keep
    /// its place behind them), sent in order once the wait is over.
    var withheld: Deque<Packet> = []
    /// True once `FlowControl.maximumWithheldAcknowledgements` were withheld and the socket stopped being read.
    var readingStopped = false

    /// Nothing left to keep.
    var isRelieved: Bool {
        drainTimeout == nil && congestedSession == nil && withheld.isEmpty && !readingStopped
    }
}
