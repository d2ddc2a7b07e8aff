import Logging
import MQTT
import NIOCore

/// Calls to `BrokerHooks` from a connection: off the event loop, with the connection's decoding paused until
/// the answer, a timeout, and denial when the hook throws or is late.
extension ConnectionHandler {
    /// Runs `operation` outside the event loop and `completion` back on it, with the result or a timeout
    /// error, also when the connection ended meanwhile; decoding is paused until then.
    func runHook<T: Sendable>(
        _ name: String, _ operation: @escaping @Sendable () async throws -> T,
        then completion: @escaping (Result<T, any Error>) -> Void
    ) {
        let guards = guardState
        guards.hookSerial &+= 1
        let serial = guards.hookSerial
        guards.pendingHook = serial
        pause()
        let eventLoop = loop.eventLoop
        let finish = NIOLoopBound({ [self] (result: Result<T, any Error>) in
            guard guards.pendingHook == serial else { return }
            guards.pendingHook = nil
            guards.hookTimeout?.cancel()
            guards.hookTimeout = nil
            guards.hookTask = nil
            if case .failure(let error) = result {
                logger.warning("hook failed; denying", metadata: ["hook": "\(name)", "error": "\(error)"])
            }
            // The completion runs even when the connection has ended meanwhile: a PUBLISH it sent is still routed.
            guard state != .closed && state != .takenOver else {
                completion(result)
                loop.flush()
                return
            }
            // The completion may start another asynchronous step that pauses again; then that step resumes.
            paused = false
            completion(result)
            if !paused {
                paused = true
                resume()
            }
            loop.flush()
        }, eventLoop: eventLoop)
        guards.hookTask = Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await operation())
            } catch {
                result = .failure(error)
            }
            guard !Task.isCancelled else { return }
            eventLoop.execute { finish.value(result) }
        }
        guards.hookTimeout = eventLoop.assumeIsolated().scheduleTask(in: core.hooks.timeout) {
            guards.hookTask?.cancel()
            finish.value(.failure(HookTimedOut()))
        }
    }

    func authorizePublish(_ message: Message, publish: PublishPacket, session: Session, authorizer: any PublishAuthorizer) {
        guard let client = clientInfo else { return }
        runHook("publish authorizer", { try await authorizer.authorizePublish(message, from: client) }) { [self] result in
            switch result {
            case .success(.allow):
                route(message, for: publish, session: session)
            case .success(.rewrite(var rewritten)):
                do {
                    try TopicName.validate(rewritten.topic, limits: core.configuration.limits.topicLimits)
                } catch {
                    logger.error("publish authorizer rewrote the topic to an invalid one", metadata: ["topic": "\(rewritten.topic)"])
                    refusePublish(publish, session: session, reason: .implementationSpecificError, why: "rewritten topic is invalid", topic: message.topic)
                    return
                }
                rewritten.publisher = message.publisher
                route(rewritten, for: publish, session: session)
            case .success(.refuse(let reason)):
                refusePublish(publish, session: session, reason: reason.isFailure ? reason : .notAuthorized, why: "refused by the publish authorizer", topic: message.topic)
            case .failure:
                refusePublish(publish, session: session, reason: .notAuthorized, why: "publish authorizer failed", topic: message.topic)
            }
        }
    }

    func authorizeSubscribe(_ subscribe: SubscribePacket, session: Session, authorizer: any SubscribeAuthorizer) {
        guard let client = clientInfo else { return }
        let subscriptions = subscribe.subscriptions
        runHook("subscribe authorizer", {
            var decisions: [SubscribeAuthorization] = []
            for subscription in subscriptions {
                decisions.append(try await authorizer.authorizeSubscribe(subscription.topicFilter, options: subscription.options, for: client))
            }
            return decisions
        }) { [self] result in
            guard state == .connected else { return }
            let decisions = (try? result.get()) ?? Array(repeating: .refuse(.notAuthorized), count: subscriptions.count)
            handleSubscribe(subscribe, session: session, decisions: decisions)
        }
    }
}

/// A hook did not answer within `BrokerHooks.timeout`.
struct HookTimedOut: Error, CustomStringConvertible {
    var description: String { "no answer within the hook timeout" }
}
