import MQTT

/// A publishing connection's wait for a congested session (see `FlowControl`): while it waits, its
/// acknowledgements are withheld (`ConnectionPressure.withheld`), and past a limit its socket is not read.
enum CongestionWait {
    /// A message `connection` published went to `session`, which is congested: its acknowledgement, and those
    /// of the messages it publishes next, are withheld until the session is relieved. Its messages are routed as
    /// they come, so that they reach the subscriber in the order they arrived whoever sent them.
    ///
    /// A client whose own session is congested never waits: others may be waiting for its session, which drains
    /// only as fast as its client acknowledges, and a client may acknowledge nothing until what it published is
    /// acknowledged. So a session waited for is congested and its client waits for nobody, and no chain of
    /// waits can close on itself, however clients publish to one another.
    static func start(_ connection: ConnectionHandler, waitingFor session: Session) {
        guard connection.state == .connected, connection.pressure?.congestedSession == nil, let own = connection.session else { return }
        guard !own.isCongested.load(ordering: .relaxed) else {
            connection.loop.counters.flowControl.waitsSkipped &+= 1
            return
        }
        guard connection.core.congestionWaiters.wait(connection, for: session) else { return }
        let pressure = connection.pressure ?? ConnectionPressure()
        pressure.congestedSession = session
        connection.pressure = pressure
        connection.loop.counters.flowControl.publishersSlowed &+= 1
    }

    /// `session` was relieved: what was withheld goes out.
    static func end(_ connection: ConnectionHandler, relieved session: Session) {
        guard let wait = connection.pressure, wait.congestedSession === session else { return }
        wait.congestedSession = nil
        releaseWithheld(wait, on: connection)
    }

    /// The connection's own session became congested: it must not wait for another (see `start`), so if it
    /// does, it goes on at once.
    static func endAsCongested(_ connection: ConnectionHandler) {
        guard connection.pressure?.congestedSession != nil else { return }
        // A task: this comes in the middle of routing a message, which must not be interrupted.
        connection.loop.eventLoop.execute {
            guard let wait = connection.pressure, wait.congestedSession != nil,
                connection.session?.isCongested.load(ordering: .relaxed) == true
            else { return }
            cancel(connection)
            connection.loop.counters.flowControl.waitsSkipped &+= 1
            releaseWithheld(wait, on: connection)
            connection.loop.flush()
        }
    }

    /// Holds back `packet`, an acknowledgement or what must follow one, while the connection waits; false when it
    /// does not wait and the packet can go. Once `maximumWithheldAcknowledgements` are held back, the socket stops
    /// being read: a client that does not wait for its acknowledgements is stopped by TCP. Acknowledgements the
    /// client sends behind that wait too, which holds nobody up for long: should messages to this client pile up
    /// unacknowledged, its session becomes congested and it goes on (`endAsCongested`).
    static func withhold(_ packet: Packet, on connection: ConnectionHandler) -> Bool {
        guard let wait = connection.pressure, wait.congestedSession != nil else { return false }
        wait.withheld.append(packet)
        if !wait.readingStopped,
            wait.withheld.count >= connection.core.configuration.limits.flowControl?.maximumWithheldAcknowledgements ?? 0
        {
            wait.readingStopped = true
            connection.loop.counters.flowControl.readingStopped &+= 1
            connection.updateReading()
        }
        return true
    }

    /// The client published a QoS 0 message while it waits: there is no acknowledgement to withhold, so its
    /// socket stops being read at once, and TCP holds it back until the session it waits for is relieved.
    static func publishedUnacknowledged(on connection: ConnectionHandler) {
        guard let wait = connection.pressure, wait.congestedSession != nil, !wait.readingStopped else { return }
        wait.readingStopped = true
        connection.loop.counters.flowControl.readingStopped &+= 1
        connection.updateReading()
    }

    /// Forgets the wait, if any, keeping what it withheld.
    static func cancel(_ connection: ConnectionHandler) {
        guard let wait = connection.pressure, let session = wait.congestedSession else { return }
        connection.core.congestionWaiters.cancel(connection, for: session)
        wait.congestedSession = nil
    }

    /// Sends what was withheld, in order, and reads again.
    private static func releaseWithheld(_ wait: ConnectionPressure, on connection: ConnectionHandler) {
        while let packet = wait.withheld.popFirst() { connection.sendDurably(packet) }
        if wait.readingStopped {
            wait.readingStopped = false
            connection.updateReading()
        }
        if wait.isRelieved { connection.pressure = nil }
    }
}
