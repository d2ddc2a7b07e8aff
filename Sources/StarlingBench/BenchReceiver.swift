import NIOCore

/// What one subscribing connection received, kept on its event loop.
final class BenchReceiver: @unchecked Sendable {
    // Sendable proof: mutated only by its connection's handler on that connection's event loop; read by the
    // runner through a task submitted to the same loop after the run.
    let expected: Int
    let done: EventLoopPromise<Void>
    private(set) var received = 0
    private(set) var duplicates = 0
    private(set) var outOfOrder = 0
    private(set) var firstAt: UInt64 = 0
    private(set) var lastAt: UInt64 = 0
    private(set) var latencies: [UInt64] = []
    /// One flag per message of every publisher, to tell duplicates from first deliveries.
    private var seen: [Bool]
    private var lastSequence: [UInt64]
    private let messagesPerPublisher: Int

    init(expected: Int, publishers: Int, messagesPerPublisher: Int, eventLoop: any EventLoop) {
        self.expected = expected
        self.messagesPerPublisher = messagesPerPublisher
        self.seen = Array(repeating: false, count: publishers * messagesPerPublisher)
        self.lastSequence = Array(repeating: .max, count: publishers)
        self.done = eventLoop.makePromise()
        latencies.reserveCapacity(min(expected, 1_000_000))
    }

    func received(_ payload: ByteBuffer) {
        let now = NIODeadline.now().uptimeNanoseconds
        if received == 0 { firstAt = now }
        lastAt = now
        guard let (sequence, publisherNumber, sentAt) = BenchPayload.read(payload) else { return }
        let publisher = Int(publisherNumber)
        guard publisher < lastSequence.count, Int(sequence) < messagesPerPublisher else { return }
        let slot = publisher * messagesPerPublisher + Int(sequence)
        if seen[slot] {
            duplicates += 1
            return
        }
        seen[slot] = true
        if lastSequence[publisher] != .max && sequence < lastSequence[publisher] { outOfOrder += 1 }
        lastSequence[publisher] = sequence
        received += 1
        if latencies.count < 1_000_000 { latencies.append(now &- sentAt) }
        if received == expected { done.succeed() }
    }
}
