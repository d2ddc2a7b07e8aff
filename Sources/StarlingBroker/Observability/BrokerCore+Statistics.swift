import Atomics
import NIOCore

extension BrokerCore {
    /// A snapshot of the statistics, gathered on the first loop from every loop's counters.
    func statistics(since started: NIODeadline) -> EventLoopFuture<BrokerStatistics> {
        let first = loops[0]
        let listenerCount = configuration.listeners.count
        let all = sessions.allSessions()
        var byLoop = Array(repeating: [Session](), count: loops.count)
        for session in all { byLoop[session.homeIndex.load(ordering: .relaxed)].append(session) }
        let counters = loops.map { loop in
            loop.eventLoop.submit { [homed = byLoop[loop.index]] in
                var counters = loop.counters
                // Shared subscriptions are counted from the sessions, each on its own loop, so that the routing
                // tree, read for every message, stays as it is. A session moving loops meanwhile may be missed.
                for session in homed where session.homeIndex.load(ordering: .relaxed) == loop.index {
                    for filter in session.subscriptions.keys where filter.string.utf8.starts(with: "$share/".utf8) {
                        counters.sharedSubscriptions += 1
                    }
                }
                counters.listenerConnections = Array(repeating: 0, count: listenerCount)
                for connection in loop.connections.elements where connection.listenerIndex >= 0 && Int(connection.listenerIndex) < listenerCount {
                    counters.listenerConnections[Int(connection.listenerIndex)] += 1
                }
                return counters
            }
        }
        return EventLoopFuture.reduce(LoopCounters(), counters, on: first.eventLoop, +).map { [self] total in
            var statistics = BrokerStatistics()
            statistics.uptime = (NIODeadline.now() - started).nanoseconds / 1_000_000_000
            statistics.connectedClients = connectionCount.load(ordering: .relaxed)
            statistics.hibernatingClients = total.hibernatingConnections
            statistics.acceptedConnections = acceptedConnections.load(ordering: .relaxed)
            statistics.refusedConnections = total.refusedConnections
            statistics.listenerConnections = total.listenerConnections
            statistics.sessions = all.count
            statistics.offlineSessions = all.reduce(0) { $0 + ($1.isConnected.load(ordering: .relaxed) ? 0 : 1) }
            statistics.sessionOutcomes = total.sessionOutcomes
            // Every loop holds every subscription; the first loop's copy is read on its own loop.
            statistics.subscriptions = first.subscriptions.count
            statistics.sharedSubscriptions = total.sharedSubscriptions
            (statistics.retainedMessages, statistics.retainedBytes) = retained.withLockedValue { ($0.count, $0.bytes) }
            statistics.received = total.received
            statistics.sent = total.sent
            statistics.messagesReceived = total.received.messages
            statistics.messagesSent = total.sent.messages
            statistics.security = total.security
            if let writer {
                statistics.storeCommits = writer.commits.load(ordering: .relaxed)
                statistics.storeCommitFailures = writer.commitFailures.load(ordering: .relaxed)
            }
            statistics.messagesDropped = total.drops.total
            statistics.drops = total.drops
            // Each PINGREQ answered for a hibernating connection is two bytes in and two out.
            let pingBytes = 2 * (runningHibernationWatcher?.answeredPings ?? 0)
            statistics.bytesReceived = total.bytesReceived &+ pingBytes
            statistics.bytesSent = total.bytesSent &+ pingBytes
            statistics.outboundLimitReached = total.outboundLimitReached
            statistics.webSocketViolations = total.webSocketViolations
            statistics.upgradeHeadsRefused = total.upgradeHeadsRefused
            statistics.flowControl = total.flowControl
            return statistics
        }
    }
}
