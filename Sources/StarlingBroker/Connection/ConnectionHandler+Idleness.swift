import MQTT
import NIOCore

/// The connect deadline, the keep alive and when an idle connection hibernates, watched through the loop's
/// `DeadlineWheel` with no timer of the connection's own.
extension ConnectionHandler {
    /// Watches the keep alive, if any, and when to hibernate through the loop's wheel, with no timer of its own:
    /// a read only moves `lastReadAt` on, and marks the connection active.
    func watchIdleness(keepAlive timeout: TimeAmount?) {
        keepAliveTimeout = timeout
        lastReadAt = .now()
        lastActiveAt = lastReadAt
        if mayHibernate { countAwake(true) }
        watchNextDeadline(notBefore: lastReadAt)
    }

    func countAwake(_ awake: Bool) {
        guard awake != countedAwake else { return }
        countedAwake = awake
        loop.awakeConnections += awake ? 1 : -1
    }

    /// How long the connection must stay idle before it hibernates: `hibernateAfter`, or a tick while its loop
    /// has more connections awake than its share of `hibernateQuicklyAbove`.
    private func hibernationDelay(_ after: TimeAmount) -> TimeAmount {
        isHurried ? DeadlineWheel.tick : after
    }

    private var isHurried: Bool {
        guard mayHibernateQuickly, let threshold = loop.quickHibernationThreshold else { return false }
        return loop.awakeConnections > threshold
    }

    /// Has the wheel look at this connection again at its keep alive's end or when it may hibernate, whichever
    /// comes first, but not before `earliest`.
    func watchNextDeadline(notBefore earliest: NIODeadline) {
        var next = keepAliveTimeout.map { lastReadAt + $0 } ?? .distantFuture
        if mayHibernate, isAwake, let after = core.configuration.limits.hibernateAfter {
            next = min(next, max(lastActiveAt + hibernationDelay(after), earliest))
        }
        if next == .distantFuture {
            loop.deadlineWheel.remove(self)
        } else {
            loop.deadlineWheel.insert(self, deadline: next)
        }
    }

    /// Called by the wheel when the deadline it knew of has come.
    func checkDeadline(now: NIODeadline) {
        switch state {
        case .awaitingConnect:
            guard connectDeadline <= now else {
                loop.deadlineWheel.insert(self, deadline: connectDeadline)
                return
            }
            logger.info("closing connection that sent no CONNECT in time")
            close()
        case .connected:
            // Not reading while the client does not read: its keep alive is the drain timeout's business then.
            if outputBlocked { lastReadAt = now }
            if let timeout = keepAliveTimeout, lastReadAt + timeout <= now, lastHeardFrom() + timeout <= now {
                // MQTT-3.1.2-24: nothing received for one and a half times the keep alive.
                logger.info("keep alive expired", metadata: ["client": "\(session?.clientIdentifier ?? "")"])
                disconnect(reason: .keepAliveTimeout)
                return
            }
            if activeSinceCheck {
                activeSinceCheck = false
                // Hurried, the CONNECT and its CONNACK do not count: most of a crowd connecting at once says no
                // more for a while, and one that does has woken quickly and will not be hurried again.
                if !(firstIdlenessCheck && isHurried) { lastActiveAt = now }
            }
            firstIdlenessCheck = false
            if mayHibernate, isAwake, let after = core.configuration.limits.hibernateAfter, lastActiveAt + hibernationDelay(after) <= now {
                // Out of the wheel for the few milliseconds it waits for its turn.
                loop.hibernationQueue.append(self)
                return
            }
            watchNextDeadline(notBefore: now)
        case .authenticating, .connecting, .takenOver, .closed:
            return
        }
    }

    /// The loop's `HibernationQueue` has come to this connection, idle when it was queued.
    func takeHibernationTurn() {
        guard state == .connected, isAwake, let after = core.configuration.limits.hibernateAfter else { return }
        let now = NIODeadline.now()
        var earliest = now
        if activeSinceCheck {
            activeSinceCheck = false
            lastActiveAt = now
        } else if lastActiveAt + hibernationDelay(after) <= now, !hibernate() {
            // Busy with something (a message in flight, a hook): look again later.
            earliest = now + hibernationDelay(after)
        }
        // Not hibernated: active again, no longer hurried, or busy.
        watchNextDeadline(notBefore: earliest)
    }
}
