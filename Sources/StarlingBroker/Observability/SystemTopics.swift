import MQTT
import NIOCore

/// Publishes the broker's statistics as retained messages under `$SYS/broker/`, as Mosquitto does, every
/// `BrokerConfiguration.systemTopicsInterval`. Subscriptions starting with a wildcard never match these
/// topics (MQTT-4.7.2-1); a client asks for them by name, `$SYS/#` for instance.
final class SystemTopics: Sendable {
    private let core: BrokerCore
    private let task: RepeatedTask

    init(core: BrokerCore, interval: TimeAmount, version: String, started: NIODeadline) {
        self.core = core
        let loop = core.loops[0]
        task = loop.eventLoop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: interval) { _ in
            core.statistics(since: started).map { statistics in
                for (topic, value) in Self.messages(statistics, version: version) {
                    _ = core.publish(
                        Message(topic: "$SYS/broker/" + topic, payload: ByteBuffer(string: value), qos: .atMostOnce, retain: true,
                                properties: [], publisher: nil, expiry: nil),
                        on: loop)
                }
                loop.flush()
            }
        }
    }

    func cancel() {
        task.cancel()
    }

    static func messages(_ statistics: BrokerStatistics, version: String) -> [(String, String)] {
        [
            ("version", "starling version \(version)"),
            ("uptime", "\(statistics.uptime) seconds"),
            ("clients/connected", "\(statistics.connectedClients)"),
            ("clients/hibernating", "\(statistics.hibernatingClients)"),
            ("clients/total", "\(statistics.sessions)"),
            ("subscriptions/count", "\(statistics.subscriptions)"),
            ("retained messages/count", "\(statistics.retainedMessages)"),
            ("messages/received", "\(statistics.messagesReceived)"),
            ("messages/sent", "\(statistics.messagesSent)"),
            ("messages/dropped", "\(statistics.messagesDropped)"),
            ("messages/dropped/queue-full", "\(statistics.drops.queueFull)"),
            ("messages/dropped/queue-bytes-full", "\(statistics.drops.queueBytesFull)"),
            ("messages/dropped/too-large", "\(statistics.drops.tooLarge)"),
            ("messages/dropped/expired", "\(statistics.drops.expired)"),
            ("flow-control/congestions", "\(statistics.flowControl.congestions)"),
            ("flow-control/publishers-slowed", "\(statistics.flowControl.publishersSlowed)"),
            ("flow-control/reading-stopped", "\(statistics.flowControl.readingStopped)"),
            ("flow-control/waits-skipped", "\(statistics.flowControl.waitsSkipped)"),
            ("flow-control/stalled-subscribers-closed", "\(statistics.flowControl.stalledSubscribersClosed)"),
            ("bytes/received", "\(statistics.bytesReceived)"),
            ("bytes/sent", "\(statistics.bytesSent)"),
        ]
    }
}
