/// The messages of one subscription, as an `AsyncSequence`.
///
/// The stream receives only the messages that match this subscription: by Subscription Identifier in MQTT 5.0
/// (so overlapping subscriptions each get their own copy), by topic filter in 3.1.1. It survives reconnects.
/// When the consumer stops iterating (its task is cancelled, or the subscription is dropped) or calls
/// `unsubscribe()`, the client unsubscribes from the filters no other subscription of this client still uses.
///
/// Messages wait in the stream until they are read, up to `MQTTClientConfiguration.messageBufferLimit`; beyond it
/// the client stops reading from the broker until the consumer catches up (see `MQTTMessageStream`). Iterate it
/// from one task at a time.
public struct MQTTSubscription: AsyncSequence, Sendable {
    /// Each element is one message matching the subscription.
    public typealias Element = MQTTMessage
    /// The stream ends with an `MQTTClientError` when the client shuts down or its connection is lost for good.
    public typealias Failure = any Error

    /// The broker's SUBACK: granted QoS or reason code per filter.
    public let result: SubscribeResult
    /// The topic filters subscribed to, as given to `subscribe`.
    public let filters: [String]
    let owner: Int
    let client: MQTTClient
    let stream: MQTTMessageStream

    /// Reads the subscription's messages in the order they arrived.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: MQTTMessageStream.AsyncIterator

        /// The next matching message, waiting for it; nil once the subscription has ended.
        public mutating func next() async throws -> MQTTMessage? {
            try await base.next()
        }
    }

    /// An iterator over the messages; make only one, and use it from one task.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// Ends the stream and unsubscribes. Returns the UNSUBACK, or nil when another subscription of this client
    /// still uses every filter (or the client is shut down), so that nothing was sent.
    @discardableResult
    public func unsubscribe() async throws -> UnsubscribeResult? {
        try await client.release(owner)
    }
}
