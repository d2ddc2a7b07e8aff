import NIOCore

extension BrokerCore {
    /// A snapshot of the statistics, gathered on the first loop from every loop's counters.
    func statistics(since started: NIODeadline) -> EventLoopFuture<BrokerStatistics> {
        let first = loops[0]
        let counters = loops.map { loop in loop.eventLoop.submit { loop.counters } }
        return EventLoopFuture.reduce(LoopCounters(), counters, on: first.eventLoop, +).map { [self] total in
            var statistics = BrokerStatistics()
            statistics.uptime = (NIODeadline.now() - started).nanoseconds / 1_000_000_000
            statistics.connectedClients = connectionCount.load(ordering: .relaxed)
            statistics.hibernatingClients = total.hibernatingConnections
            statistics.sessions = sessions.count
            // Every loop holds every subscription; the first loop's copy is read on its own loop.
            statistics.subscriptions = first.subscriptions.count
            statistics.retainedMessages = retained.withLockedValue { $0.count }
            statistics.messagesReceived = total.messagesReceived
            statistics.messagesSent = total.messagesSent
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
