/// Where a published message goes: to the matching sessions of this process and, in a cluster, to the nodes
/// whose sessions match. Every message published here (by a client, a will, the embedding application) goes
/// through the core's router, on the loop it was published on.
///
/// `LocalMessageRouter` is the first alone; a cluster's router extends it, forwarding to the nodes that
/// subscribed and routing what they forward only locally.
protocol MessageRouter: Sendable {
    /// Routes `message`, published on `loop`, to every session it reaches; returns how many. Runs on `loop`.
    func route(_ message: Message, on loop: BrokerLoop) -> Int
}

/// The router of a broker on its own: each loop's replica of the subscription tree, read without a lock.
struct LocalMessageRouter: MessageRouter {
    func route(_ message: Message, on loop: BrokerLoop) -> Int {
        loop.route(message)
    }
}
