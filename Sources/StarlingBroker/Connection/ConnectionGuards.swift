import NIOCore

/// A connection's state for the ACL, the publish limits and the hooks, allocated only when one of them is
/// configured, so that a connection of a broker without them stays small.
final class ConnectionGuards {
    /// Who the client is, for hooks; set once it is connected.
    var clientInfo: ClientInfo?
    /// Set when an ACL is configured; used in place, never copied out, as it holds the per-topic answers.
    var access: ConnectionAccess?
    /// Set when a publish rate or bandwidth limit is configured.
    var publishQuota: PublishQuota?
    /// The hook call the connection waits for (see `runHook`), its deadline and its task.
    var pendingHook: UInt64?
    var hookSerial: UInt64 = 0
    var hookTask: Task<Void, Never>?
    var hookTimeout: Scheduled<Void>?
    var refusedMessages = 0
    var nextRefusalLog = NIODeadline.uptimeNanoseconds(0)
}

extension ConnectionHandler {
    var guardState: ConnectionGuards {
        if let guards { return guards }
        let made = ConnectionGuards()
        guards = made
        return made
    }

    var clientInfo: ClientInfo? {
        guards?.clientInfo
    }

    /// Who the client of `session` is, for an observed event: as hooks see it when they are configured, else
    /// from what the connection keeps.
    func observedClient(_ session: Session) -> ClientInfo {
        clientInfo ?? ClientInfo(clientIdentifier: session.clientIdentifier, protocolVersion: version, remoteAddress: remoteAddress)
    }

    /// Whether an ACL applies to this connection.
    var hasAccessRules: Bool {
        guards?.access != nil
    }
}
