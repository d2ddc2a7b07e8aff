import Logging
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
    /// Made when the connection first calls a hook.
    var hookCalls: HookCalls?
    var refusedMessages = 0

    /// Whether a PUBLISH has anything to pass here: an ACL or a rate limit.
    var checksPublishes: Bool { access != nil || publishQuota != nil }
    var nextRefusalLog = NIODeadline.uptimeNanoseconds(0)
}

extension ConnectionHandler {
    var guardState: ConnectionGuards {
        if let guards { return guards }
        let made = ConnectionGuards()
        guards = made
        return made
    }

    var hookCalls: HookCalls {
        let guards = guardState
        if let calls = guards.hookCalls { return calls }
        let made = HookCalls(connection: self)
        guards.hookCalls = made
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

    /// Logs a refused message or subscription: at most one line per connection every ten seconds, so that a
    /// client cannot flood the log.
    func logRefusal(_ why: String, topic: String) {
        let guards = guardState
        guards.refusedMessages += 1
        let now = NIODeadline.now()
        guard now >= guards.nextRefusalLog else { return }
        guards.nextRefusalLog = now + .seconds(10)
        logger.warning("message refused", metadata: ["reason": "\(why)", "topic": "\(topic)", "refused-so-far": "\(guards.refusedMessages)"])
    }
}
