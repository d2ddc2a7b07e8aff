import NIOCore

/// The deadlines of one loop's connections — the CONNECT that must arrive, then the keep alive — watched by one
/// repeating timer instead of a timer per connection: a scheduled task, its promise and its closure cost an
/// idle connection about 290 bytes, a place in a slot 8.
///
/// Time is cut into ticks; a connection waits in the slot of the tick at which its deadline falls, within a
/// horizon of `slotCount` ticks. A read only moves the connection's last-read time: when its slot comes round,
/// a connection whose deadline has moved on goes to the slot of the new one, and only one whose deadline has
/// passed is closed — never early, at most one tick late. Confined to the loop's event loop.
final class DeadlineWheel {
    static let tick = TimeAmount.milliseconds(100)
    private static let slotCount = 256

    private let eventLoop: any EventLoop
    private var slots = Array(repeating: PlacedList<ConnectionHandler>(place: \.deadlinePosition), count: slotCount)
    private var spare: [ConnectionHandler] = []
    /// The slot the next tick visits.
    private var current = 0
    private var count = 0
    private var timer: Scheduled<Void>?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Watches `connection` until `deadline`, when it is asked to check its deadline.
    func insert(_ connection: ConnectionHandler, deadline: NIODeadline) {
        eventLoop.preconditionInEventLoop()
        // A connection waits in one slot at a time: a new deadline replaces the one it had.
        remove(connection)
        let ticks = (deadline - .now()).nanoseconds / Self.tick.nanoseconds + 1
        let slot = (current + Int(min(max(ticks, 0), Int64(Self.slotCount - 1)))) % Self.slotCount
        connection.deadlineSlot = Int16(slot)
        slots[slot].append(connection)
        count += 1
        if timer == nil { scheduleTick() }
    }

    func remove(_ connection: ConnectionHandler) {
        let slot = Int(connection.deadlineSlot)
        guard slot >= 0 else { return }
        slots[slot].remove(connection)
        connection.deadlineSlot = -1
        count -= 1
        stopIfEmpty()
    }

    private func scheduleTick() {
        timer = eventLoop.assumeIsolated().scheduleTask(in: Self.tick) { [self] in
            timer = nil
            advance()
        }
    }

    private func advance() {
        slots[current].takeAll(into: &spare)
        current = (current + 1) % Self.slotCount
        count -= spare.count
        let now = NIODeadline.now()
        for connection in spare {
            connection.deadlineSlot = -1
            connection.checkDeadline(now: now)
        }
        spare.removeAll(keepingCapacity: true)
        if count > 0 && timer == nil { scheduleTick() }
    }

    /// With no connection to watch, the loop has no timer either: a broker that is shut down leaves nothing
    /// behind on a loop group that goes on.
    private func stopIfEmpty() {
        guard count == 0, let timer else { return }
        timer.cancel()
        self.timer = nil
    }
}
