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
    public typealias Element = MQTTMessage
    public typealias Failure = any Error

    /// The broker's SUBACK: granted QoS or reason code per filter.
    public let result: SubscribeResult
    public let filters: [String]
    let owner: Int
    let client: MQTTClient
    let stream: MQTTMessageStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: MQTTMessageStream.AsyncIterator

        public mutating func next() async throws -> MQTTMessage? {
            try await base.next()
        }
    }

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
