/// Who holds the session of each client identifier, and the rules of holding one: a CONNECT claims the session
/// (taking it over from the connection that has it, MQTT-3.1.4-3), a connection that goes leaves its will and
/// the session's expiry behind, and a session ends (its subscriptions go, its will is published).
///
/// Connections and the store's restore go through this and nothing else, so that where a session is held is
/// the registry's business alone. `LocalSessionRegistry` holds the sessions of this process; a cluster's
/// registry extends it, claiming an identifier across the nodes before the local take-over and releasing the
/// claim when the session ends.
protocol SessionRegistry: AnyObject, Sendable {
    /// How many sessions there are, connected or not.
    var count: Int { get }
    func session(for clientIdentifier: String) -> Session?
    /// Every session, connected or not, in no particular order.
    func allSessions() -> [Session]
    /// A new session of `clientIdentifier` living on `loop`, not yet registered.
    func makeSession(_ clientIdentifier: String, on loop: BrokerLoop) -> Session
    /// Registers sessions restored from the store.
    func restore(_ restored: [Session])
    /// Finds or creates the session of `clientIdentifier` for a connection on `loop`, taking it over from a
    /// connection that holds it; `answer` runs on `loop`.
    func claim(_ clientIdentifier: String, cleanStart: Bool, on loop: BrokerLoop, _ answer: @escaping (SessionClaim) -> Void)
    /// The connection of `session` is gone: publish or schedule its will, then end the session or start its expiry.
    func connectionLost(_ session: Session, willDiscarded: Bool, loop: BrokerLoop)
    /// Ends `session` for good. Runs on the session's loop.
    func end(_ session: Session, loop: BrokerLoop)
    /// Publishes the will of `session` now and forgets it.
    func publishWill(of session: Session, loop: BrokerLoop)
    /// Lets another cluster node take the session of `clientIdentifier` over; `done` says whether it was resumed
    /// there, its stored rows whole.
    func handOver(_ clientIdentifier: String, resume: Bool, _ done: @escaping @Sendable (Bool) -> Void)
}

/// What a CONNECT's claim on a session comes to.
enum SessionClaim {
    /// The session to attach; `present` when it is resumed (Session Present, 3.2.2.1.1).
    case granted(Session, present: Bool)
    /// The registry holds `maximumSessions` already.
    case refused(maximumSessions: Int)
}
