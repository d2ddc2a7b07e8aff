import DequeModule
import NIOCore

/// A loop's connections that are due to hibernate, taken a few at a time with a pause between: one hibernation
/// takes about 16 µs of the loop, so a crowd going idle together — thousands that connected at once — is
/// hibernated as fast as the loop can while its other connections wait half a millisecond at most. Confined to
/// the loop's event loop.
final class HibernationQueue {
    static let pause = TimeAmount.milliseconds(2)

    private let eventLoop: any EventLoop
    private var waiting: Deque<ConnectionHandler> = []
    private var timer: Scheduled<Void>?
    /// Hibernations at a time.
    var batchSize = 32

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func append(_ connection: ConnectionHandler) {
        eventLoop.preconditionInEventLoop()
        waiting.append(connection)
        if timer == nil { scheduleBatch() }
    }

    /// A pause rather than a task to run at once, so that the loop reads and writes between two batches.
    private func scheduleBatch() {
        timer = eventLoop.assumeIsolated().scheduleTask(in: Self.pause) { [self] in
            timer = nil
            for _ in 0..<min(batchSize, waiting.count) {
                waiting.removeFirst().takeHibernationTurn()
            }
            if !waiting.isEmpty { scheduleBatch() }
        }
    }
}
