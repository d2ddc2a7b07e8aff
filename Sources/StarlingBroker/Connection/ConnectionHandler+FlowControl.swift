import MQTT

extension ConnectionHandler {
    /// A message this connection published went to `session`, which is congested: its acknowledgement, and those
    /// of the messages it publishes next, are withheld until the session is relieved. Its messages are routed as
    /// they come, so that they reach the subscriber in the order they arrived whoever sent them.
    ///
    /// A client whose own session is congested never waits: others may be waiting for its session, which drains
    /// only as fast as its client acknowledges, and a client may acknowledge nothing until what it published is
    /// acknowledged. So a session waited for is congested and its client waits for nobody, and no chain of
    /// waits can close on itself, however clients publish to one another.
    func waitFor(_ session: Session) {
        guard state == .connected, pressure?.congestedSession == nil, let own = self.session else { return }
        guard !own.isCongested.load(ordering: .relaxed) else {
            loop.counters.flowControl.waitsSkipped &+= 1
            return
        }
        guard core.congestionWaiters.wait(self, for: session) else { return }
        let pressure = self.pressure ?? ConnectionPressure()
        pressure.congestedSession = session
        self.pressure = pressure
        loop.counters.flowControl.publishersSlowed &+= 1
    }

    /// `session` was relieved: what was withheld goes out.
    func goOn(after session: Session) {
        guard let wait = pressure, wait.congestedSession === session else { return }
        wait.congestedSession = nil
        releaseWithheld(wait)
    }

    /// This connection's own session became congested: it must not wait for another (see `waitFor`), so if it
    /// does, it goes on at once.
    func stopWaitingAsCongested() {
        guard pressure?.congestedSession != nil else { return }
        // A task: this comes in the middle of routing a message, which must not be interrupted.
        loop.eventLoop.execute { [self] in
            guard let wait = pressure, wait.congestedSession != nil, session?.isCongested.load(ordering: .relaxed) == true else { return }
            stopWaiting()
            loop.counters.flowControl.waitsSkipped &+= 1
            releaseWithheld(wait)
            loop.flush()
        }
    }

    /// Holds back `packet`, an acknowledgement or what must follow one, while this connection waits; false when it
    /// does not wait and the packet can go. Once `maximumWithheldAcknowledgements` are held back, the socket stops
    /// being read: a client that does not wait for its acknowledgements is stopped by TCP. Acknowledgements the
    /// client sends behind that wait too, which holds nobody up for long: should messages to this client pile up
    /// unacknowledged, its session becomes congested and it goes on (`stopWaitingAsCongested`).
    func withhold(_ packet: Packet) -> Bool {
        guard let wait = pressure, wait.congestedSession != nil else { return false }
        wait.withheld.append(packet)
        if !wait.readingStopped, wait.withheld.count >= core.configuration.limits.flowControl?.maximumWithheldAcknowledgements ?? 0 {
            wait.readingStopped = true
            loop.counters.flowControl.readingStopped &+= 1
            updateReading()
        }
        return true
    }

    /// Forgets the wait, if any, keeping what it withheld.
    func stopWaiting() {
        guard let wait = pressure, let session = wait.congestedSession else { return }
        core.congestionWaiters.cancel(self, for: session)
        wait.congestedSession = nil
    }

    /// Sends what was withheld, in order, and reads again.
    private func releaseWithheld(_ wait: ConnectionPressure) {
        while let packet = wait.withheld.popFirst() { sendDurably(packet) }
        if wait.readingStopped {
            wait.readingStopped = false
            updateReading()
        }
        if wait.isRelieved { pressure = nil }
    }
}
