import NIOConcurrencyHelpers

/// The connections whose PUBLISH packets wait for a congested session (see `FlowControl`), by session.
///
/// A connection is registered, and a session relieved, under one lock, and registering checks the session's
/// `isCongested` under it: a connection either sees the congestion over and goes on, or is registered before the
/// relief and woken by it. No wake-up is lost, whichever loops the two run on.
final class CongestionWaiters: Sendable {
    private let waiting = NIOLockedValueBox<[ObjectIdentifier: [ConnectionHandler]]>([:])

    /// Registers `connection` to go on once `session` is relieved; false, and nothing registered, if it already is.
    func wait(_ connection: ConnectionHandler, for session: Session) -> Bool {
        waiting.withLockedValue { waiting in
            guard session.isCongested.load(ordering: .relaxed) else { return false }
            waiting[ObjectIdentifier(session), default: []].append(connection)
            return true
        }
    }

    /// Ends the congestion of `session`; returns the connections that waited for it.
    func relieve(_ session: Session) -> [ConnectionHandler] {
        waiting.withLockedValue { waiting in
            session.isCongested.store(false, ordering: .relaxed)
            return waiting.removeValue(forKey: ObjectIdentifier(session)) ?? []
        }
    }

    /// Forgets that `connection` waits for `session` (it closed, or goes on without waiting).
    func cancel(_ connection: ConnectionHandler, for session: Session) {
        waiting.withLockedValue { waiting in
            let key = ObjectIdentifier(session)
            guard var connections = waiting[key] else { return }
            connections.removeAll { $0 === connection }
            waiting[key] = connections.isEmpty ? nil : connections
        }
    }

    /// Wakes `connections` on their own loops, one task per loop.
    static func wake(_ connections: [ConnectionHandler], from session: Session) {
        guard !connections.isEmpty else { return }
        var byLoop: [ObjectIdentifier: (BrokerLoop, [ConnectionHandler])] = [:]
        for connection in connections {
            byLoop[ObjectIdentifier(connection.loop), default: (connection.loop, [])].1.append(connection)
        }
        for (loop, group) in byLoop.values {
            // Always a task, even on this loop: the relief comes in the middle of handling another packet.
            loop.eventLoop.execute {
                for connection in group { CongestionWait.end(connection, relieved: session) }
                loop.flush()
            }
        }
    }
}
