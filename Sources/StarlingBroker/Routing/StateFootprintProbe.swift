#if os(Linux)
import CStarlingLinux
#endif
import MQTT
import NIOCore

/// What the broker's state costs in heap bytes: subscriptions held the way a SUBSCRIBE leaves them (the session's
/// record and one replica of the topic tree), retained messages the way a PUBLISH leaves them (payloads sliced
/// out of a large read buffer, as the decoder hands them over). Measured with the allocator's own statistics, so
/// the figures do not depend on what else the machine runs (but do on what else the process does meanwhile). For
/// `BrokerProfile state`; not part of the API.
@_spi(Benchmarks) public enum StateFootprintProbe {
    /// Heap bytes in use, by glibc's count (`mallinfo2`: arena and mmap'ed chunks); 0 where there is no glibc.
    public static func heapBytes() -> Int {
        #if os(Linux)
        let info = mallinfo2()
        return Int(info.uordblks) + Int(info.hblkhd)
        #else
        return 0
        #endif
    }

    /// Heap bytes per subscription for `clients` sessions each subscribing `filtersPerClient` filters made by
    /// `filter(client, index)`, QoS 0, on a broker with one loop.
    public static func bytesPerSubscription(clients: Int, filtersPerClient: Int, filter: (Int, Int) -> String) throws -> Double {
        // Built before measuring, as a broker has them before its first subscription.
        let sessions = (0..<clients).map { Session(clientIdentifier: "footprint-\($0)", homeIndex: 0) }
        var tree = TopicTree()
        let options = SubscriptionOptions()
        let before = heapBytes()
        for (client, session) in sessions.enumerated() {
            for index in 0..<filtersPerClient {
                let topicFilter = try TopicFilter(filter(client, index))
                session.subscriptions[ExactString(topicFilter.rawValue)] = PackedSubscription(options: options, identifier: nil)
                tree.insert(topicFilter, TopicTree.Subscriber(session: session, options: options))
            }
        }
        let bytes = heapBytes() - before
        return withExtendedLifetime((sessions, tree)) { Double(bytes) / Double(clients * filtersPerClient) }
    }

    /// Heap bytes per retained message for `count` messages on `r/0000000`… with `payloadSize`-byte payloads, each
    /// a slice of a 64 KiB buffer shared by the messages that arrived in it, as read from a socket.
    public static func bytesPerRetainedMessage(count: Int, payloadSize: Int = 32) -> Double {
        let perBuffer = max(1, 65_536 / (payloadSize + 16))
        var store = RetainedStore()
        var limits = BrokerConfiguration.Limits()
        limits.maximumRetainedMessages = .max
        limits.maximumRetainedBytes = .max
        let before = heapBytes()
        var buffer = ByteBuffer()
        for index in 0..<count {
            if index % perBuffer == 0 {
                buffer = ByteBufferAllocator().buffer(capacity: 65_536)
                buffer.writeRepeatingByte(UInt8(ascii: "x"), count: perBuffer * payloadSize)
            }
            let payload = buffer.readSlice(length: payloadSize)!
            let topic = "r/" + String(index).leftPadded(to: 7)
            store.retain(Message(topic: topic, payload: payload, qos: .atMostOnce, retain: true, publisher: "footprint"), limits: limits)
        }
        buffer = ByteBuffer()
        let bytes = heapBytes() - before
        return withExtendedLifetime(store) { Double(bytes) / Double(count) }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        utf8.count >= width ? self : String(repeating: "0", count: width - utf8.count) + self
    }
}
