import NIOCore

/// Messages on their way to one consumer, with back-pressure: once `MQTTClientConfiguration.messageBufferLimit`
/// messages wait unread in any stream, the client stops reading from the broker until the consumer has taken
/// half of them. The broker then holds the rest, bounded by its own limits (QoS 1 and 2 messages stay queued in
/// the session; QoS 0 messages may be dropped there), instead of the client's memory growing without end.
///
/// Iterate it from one task at a time.
public struct MQTTMessageStream: AsyncSequence, Sendable {
    /// Each element is one received message.
    public typealias Element = MQTTMessage
    /// The stream ends with an `MQTTClientError` when the client shuts down or its connection is lost for good.
    public typealias Failure = any Error

    typealias Producer = NIOThrowingAsyncSequenceProducer<
        MQTTMessage, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, MessageStreamDelegate
    >

    let producer: Producer

    /// Reads the stream's messages in the order they arrived.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator

        /// The next message, waiting for it; nil once the stream has ended normally.
        public mutating func next() async throws -> MQTTMessage? {
            try await base.next()
        }
    }

    /// An iterator over the messages; make only one, and use it from one task.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: producer.makeAsyncIterator())
    }

    /// A stream and the sink the client core writes into, which tells the core when the consumer falls behind
    /// and when it has caught up again.
    static func make(core: NIOLoopBoundBox<ClientCore>, limit: Int) -> (MQTTMessageStream, MessageSink) {
        let delegate = MessageStreamDelegate(core: core)
        let limit = Swift.max(limit, 2)
        let made = Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: limit / 2, highWatermark: limit), finishOnDeinit: false,
            delegate: delegate)
        return (MQTTMessageStream(producer: made.sequence), MessageSink(id: ObjectIdentifier(delegate), source: made.source))
    }
}

/// The producing end of an `MQTTMessageStream`, owned by the client core.
struct MessageSink {
    let id: ObjectIdentifier
    let source: MQTTMessageStream.Producer.Source

    /// Hands `message` to the consumer; false once the consumer has fallen behind.
    func yield(_ message: MQTTMessage) -> Bool {
        source.yield(message) != .stopProducing
    }

    func finish(_ error: MQTTClientError?) {
        if let error { source.finish(error) } else { source.finish() }
    }
}

/// Reports a stream's consumer catching up, or going away, to the client core on its event loop.
final class MessageStreamDelegate: NIOAsyncSequenceProducerDelegate {
    private let core: NIOLoopBoundBox<ClientCore>

    init(core: NIOLoopBoundBox<ClientCore>) {
        self.core = core
    }

    // Both keep the delegate alive until the core has the news, so that its identity, which names the stream,
    // cannot pass to a new stream meanwhile.
    func produceMore() {
        let core = self.core
        core.eventLoop.execute { core.value.streamCaughtUp(ObjectIdentifier(self)) }
    }

    func didTerminate() {
        let core = self.core
        core.eventLoop.execute { core.value.streamTerminated(ObjectIdentifier(self)) }
    }
}
