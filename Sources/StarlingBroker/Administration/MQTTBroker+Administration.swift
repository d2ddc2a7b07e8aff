import MQTT
import NIOCore

/// What an operator does to a running broker: look at its clients and retained messages, end a session, remove
/// a retained message. The admin API of `StarlingOperations` is made of these.
extension MQTTBroker {
    /// Every session, connected or kept for a client that is away, in no particular order. Each is read on its
    /// own event loop, so the list is not one instant's: a client may come or go while it is gathered.
    public func clients() async -> [ClientSnapshot] {
        await core.clientSnapshots()
    }

    /// The session of `clientIdentifier` (compared byte for byte), or nil when there is none.
    public func client(_ clientIdentifier: String) async -> ClientSnapshot? {
        await core.clientSnapshot(clientIdentifier)
    }

    /// Ends the session of `clientIdentifier`: its connection, if any, is closed (a 5.0 client is told `reason`
    /// first), and its subscriptions and queued messages are discarded whatever its expiry said. Its will is
    /// published, as for any connection the server closes. Returns whether there was such a session.
    @discardableResult
    public func discardSession(clientIdentifier: String, reason: ReasonCode = .administrativeAction) async -> Bool {
        guard let session = core.sessions.session(for: clientIdentifier) else { return false }
        let core = self.core
        // The session may move to another loop while this call travels to it; then it follows.
        for _ in 0..<4 {
            let loop = core.loops[session.homeIndex.load(ordering: .acquiring)]
            let outcome = try? await loop.eventLoop.submit { () -> Bool? in
                guard session.homeIndex.load(ordering: .acquiring) == loop.index else { return nil }
                guard session.isAlive else { return false }
                if let connection = session.connection, connection.state == .connected {
                    // A session that ends with its connection is not kept (MQTT-3.1.2-6).
                    session.expiryInterval = 0
                    connection.disconnect(reason: reason)
                }
                // Ended by its connection's end above, unless the connection was already on its way out.
                core.sessions.end(session, loop: loop)
                loop.flush()
                return true
            }.get()
            if let outcome { return outcome }
        }
        return false
    }

    /// The retained messages whose topics match `filter` (`#` when nil: every topic not starting with `$`), in
    /// topic order. Throws `MQTTError` for a filter that is not valid.
    public func retainedMessages(matching filter: String? = nil) throws -> [Message] {
        let topicFilter = try TopicFilter(filter ?? "#")
        return core.retained.withLockedValue { $0.matching(topicFilter, now: .now()) }
    }

    /// The retained message of `topic`, if it has one. Throws `MQTTError` for a topic that is not a valid topic name.
    public func retainedMessage(topic: String) throws -> Message? {
        try TopicName.validate(topic)
        return try retainedMessages(matching: topic).first
    }

    /// Removes the retained message of `topic`, from memory and from the store, without publishing anything.
    /// Returns whether there was one. Throws `MQTTError` for a topic that is not a valid topic name.
    @discardableResult
    public func removeRetainedMessage(topic: String) async throws -> Bool {
        guard try retainedMessage(topic: topic) != nil else { return false }
        let core = self.core
        let loop = core.loops[0]
        // An empty retained message is how the protocol deletes one (MQTT-3.3.1-6); made here, it reaches no client.
        let deletion = Message(topic: topic, payload: ByteBuffer(), qos: .atMostOnce, retain: true)
        return (try? await loop.eventLoop.submit { () -> Bool in
            let existed = core.retained.withLockedValue { store in
                guard !store.matching(TopicFilter(validated: topic), now: .now()).isEmpty else { return false }
                store.retain(deletion)
                return true
            }
            if existed, let storeChanges = loop.storeChanges {
                storeChanges.recordRetained(deletion)
                loop.flush()
            }
            return existed
        }.get()) ?? false
    }

    /// Lets the client `clientIdentifier` have up to `window` QoS 1 and 2 messages in flight towards it, beyond
    /// `Limits.maximumInflight` (and within its own Receive Maximum), from its next connection on: for a trusted
    /// client whose acknowledgements wait for another broker, such as a bridge.
    public func allowSendWindow(_ window: Int, forClientIdentifier clientIdentifier: String) {
        core.widerSendWindows.withLockedValue { $0[ExactString(clientIdentifier)] = max(1, min(window, Int(UInt16.max))) }
        core.hasWiderSendWindows.store(true, ordering: .relaxed)
    }

    /// Whether the broker is serving: its store is loaded and its listeners are bound, and it is not shutting down.
    public var isServing: Bool {
        serving.load(ordering: .relaxed)
    }
}
