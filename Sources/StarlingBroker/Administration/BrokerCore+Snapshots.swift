import NIOCore

extension BrokerCore {
    /// Every session as it is now, each read on its own loop.
    func clientSnapshots() async -> [ClientSnapshot] {
        await snapshots(of: sessions.allSessions())
    }

    /// The session of `clientIdentifier`, read on its loop; nil when there is none.
    func clientSnapshot(_ clientIdentifier: String) async -> ClientSnapshot? {
        guard let session = sessions.session(for: clientIdentifier) else { return nil }
        return await snapshots(of: [session]).first
    }

    /// Reads each session on the loop it lives on; a session that moves to another loop meanwhile is read there.
    private func snapshots(of all: [Session]) async -> [ClientSnapshot] {
        var remaining = all
        var found: [ClientSnapshot] = []
        found.reserveCapacity(all.count)
        // A session moves only when a client takes it over: a few rounds reach every one.
        for _ in 0..<4 where !remaining.isEmpty {
            var byLoop = Array(repeating: [Session](), count: loops.count)
            for session in remaining { byLoop[session.homeIndex.load(ordering: .acquiring)].append(session) }
            remaining.removeAll()
            for (index, sessions) in byLoop.enumerated() where !sessions.isEmpty {
                let loop = loops[index]
                let read = try? await loop.eventLoop.submit { () -> ([ClientSnapshot], [Session]) in
                    var snapshots: [ClientSnapshot] = []
                    var moved: [Session] = []
                    for session in sessions {
                        guard session.homeIndex.load(ordering: .acquiring) == loop.index else {
                            moved.append(session)
                            continue
                        }
                        if session.isAlive { snapshots.append(Self.snapshot(of: session)) }
                    }
                    return (snapshots, moved)
                }.get()
                guard let read else { continue }
                found.append(contentsOf: read.0)
                remaining.append(contentsOf: read.1)
            }
        }
        return found
    }

    /// Runs on the session's loop.
    private static func snapshot(of session: Session) -> ClientSnapshot {
        let connection = session.connection.flatMap { $0.state == .connected ? $0 : nil }
        var subscriptions = session.subscriptions.map { filter, packed in
            StoredSubscription(topicFilter: filter.string, options: packed.options, identifier: packed.identifier)
        }
        subscriptions.sort { $0.topicFilter.utf8.lexicographicallyPrecedes($1.topicFilter.utf8) }
        return ClientSnapshot(
            clientIdentifier: session.clientIdentifier, isConnected: connection != nil, userName: connection?.clientInfo?.userName,
            remoteAddress: connection?.remoteAddress, protocolVersion: session.version,
            keepAlive: connection.map { connection in
                // The timeout is one and a half times the Keep Alive (MQTT-3.1.2-24).
                connection.keepAliveTimeout.map { Int($0.nanoseconds / 1_500_000_000) } ?? 0
            },
            connectedSince: connection.map { Int64($0.connectedAt) },
            sessionExpiryInterval: session.expiryInterval, inflight: session.inflight.count, queued: session.queue.count,
            subscriptions: subscriptions)
    }
}
