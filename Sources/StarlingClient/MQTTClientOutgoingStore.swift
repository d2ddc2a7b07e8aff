/// Keeps QoS 1 and 2 publishes on disk until the broker has them (PUBACK, or PUBREC for QoS 2), so that what a
/// program published while its connection was down, or in flight when it stopped, is sent by the next client
/// made with the same store (MQTT.js's outgoing store). `StarlingSQLite.SQLiteClientOutgoingStore` is one.
///
/// `MQTTClient.publish` adds a message before it is queued; the client removes it once the broker has it, and
/// queues what a store holds, in order, before anything else when it first connects. A message sent again this
/// way may reach subscribers twice at QoS 1 (as any QoS 1 resend may); `queuePublish` does not use the store.
public protocol MQTTClientOutgoingStore: Sendable {
    /// Keeps `publish` and returns its key; the keys grow in the order messages are added.
    func add(_ publish: PublishPacket) async throws -> UInt64
    /// Forgets the message of `key`.
    func remove(_ key: UInt64) async throws
    /// Every message kept, in the order they were added.
    func load() async throws -> [MQTTStoredPublish]
}

/// A publish an `MQTTClientOutgoingStore` keeps.
public struct MQTTStoredPublish: Sendable {
    public var key: UInt64
    public var publish: PublishPacket

    public init(key: UInt64, publish: PublishPacket) {
        self.key = key
        self.publish = publish
    }
}
