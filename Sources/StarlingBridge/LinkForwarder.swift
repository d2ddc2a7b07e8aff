import Atomics
import Logging
import MQTT
import NIOConcurrencyHelpers
import NIOCore
import StarlingClient

/// The two directions of one life of a bridge's link: each message from one client's stream into the other's
/// queue, and its acknowledgement back once the other broker has it.
struct LinkForwarder: Sendable {
    let name: String
    /// 3.1.1 towards the remote: no No Local there, so a `both` rule's echoes are recognised instead.
    let guardsEchoes: Bool
    let logger: Logger
    let forwardedOut: ManagedAtomic<UInt64>
    let forwardedIn: ManagedAtomic<UInt64>

    init(
        name: String, guardsEchoes: Bool, logger: Logger, forwardedOut: ManagedAtomic<UInt64>,
        forwardedIn: ManagedAtomic<UInt64>
    ) {
        self.name = name
        self.guardsEchoes = guardsEchoes
        self.logger = logger
        self.forwardedOut = forwardedOut
        self.forwardedIn = forwardedIn
    }

    /// Local messages to the remote, each acknowledged locally once the remote has it.
    func forwardOut(
        _ messages: MQTTSubscription, rules: [BridgeTopicRule], from localClient: MQTTClient, to remote: MQTTClient,
        echoes: NIOLockedValueBox<EchoGuard>
    ) async throws {
        let guardsEchoes = self.guardsEchoes && rules.contains(where: \.bringsIn)
        for try await message in messages {
            guard let (rule, topic) = rules.lazy.compactMap({ rule in rule.remoteTopic(forLocal: message.topic).map { (rule, $0) } }).first else {
                localClient.acknowledge(message)
                continue
            }
            if guardsEchoes { echoes.withLockedValue { $0.sent(topic: topic, payload: message.payload) } }
            let forward = remote.queuePublish(
                topic: topic, payload: message.payload, qos: min(rule.qos, message.qos), retain: message.retain,
                properties: MQTTBridge.forwardable(message.properties))
            settle(message, after: forward, acknowledgingTo: localClient, counter: forwardedOut)
        }
        throw BridgeError.linkLost(name)
    }

    /// Remote messages published locally, each acknowledged to the remote once the local broker has it.
    func bringIn(
        _ messages: MQTTSubscription, rules: [BridgeTopicRule], from remote: MQTTClient, to localClient: MQTTClient,
        echoes: NIOLockedValueBox<EchoGuard>
    ) async throws {
        let guardsEchoes = self.guardsEchoes && rules.contains(where: \.sendsOut)
        for try await message in messages {
            if guardsEchoes, echoes.withLockedValue({ $0.isEcho(topic: message.topic, payload: message.payload) }) {
                remote.acknowledge(message)
                continue
            }
            guard let (rule, topic) = rules.lazy.compactMap({ rule in rule.localTopic(forRemote: message.topic).map { (rule, $0) } }).first else {
                remote.acknowledge(message)
                continue
            }
            let forward = localClient.queuePublish(
                topic: topic, payload: message.payload, qos: min(rule.qos, message.qos), retain: message.retain,
                properties: MQTTBridge.forwardable(message.properties))
            settle(message, after: forward, acknowledgingTo: remote, counter: forwardedIn)
        }
        throw BridgeError.linkLost(name)
    }

    /// Acknowledges `message` to the broker it came from once `forward` is done at the other one. The other
    /// broker acknowledges in the order it received them (MQTT-4.6.0-2), so these acknowledgements go in order
    /// too, without a task waiting for each. A message the other broker refused is acknowledged all the same
    /// (sending it again would be refused again) and logged; one whose link was lost is not, and comes again.
    private func settle(
        _ message: MQTTMessage, after forward: EventLoopFuture<PublishResult>, acknowledgingTo source: MQTTClient,
        counter: ManagedAtomic<UInt64>
    ) {
        let logger = self.logger
        forward.whenComplete { result in
            switch result {
            case .success:
                source.acknowledge(message)
                counter.wrappingIncrement(ordering: .relaxed)
            case .failure(let error as MQTTClientError) where error.code == .publishRefused:
                logger.warning("bridged message refused", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
                source.acknowledge(message)
            case .failure:
                break
            }
        }
    }
}
