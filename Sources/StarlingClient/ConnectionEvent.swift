/// A change in a client's connection, as seen by `MQTTClient.connectionEvents()`.
public enum ConnectionEvent: Sendable {
    /// The broker accepted a connection (the first one or a reconnection).
    case connected(ConnectResult)
    /// The connection ended; nil when the client ended it on purpose.
    case disconnected(MQTTClientError?)
    /// The client will try to connect again after `delay` (attempt counts from 1 after each loss).
    case reconnecting(attempt: Int, delay: Duration)
    /// A message stream holds `MQTTClientConfiguration.messageBufferLimit` unread messages: the client stops
    /// reading from the broker until its consumer catches up.
    case receivingPaused
    /// Every stream's consumer has caught up: the client reads from the broker again.
    case receivingResumed
}
