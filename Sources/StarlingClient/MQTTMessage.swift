import NIOCore

/// An application message received from the broker.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic name, with any topic alias already resolved.
    public var topic: String
    /// The application's bytes, as sent; `payloadString` reads them as text.
    public var payload: ByteBuffer
    /// The QoS it was delivered with: the lower of the publisher's and the subscription's.
    public var qos: QoS
    /// Set when the broker sent the message because it was retained, not because it was just published.
    public var retain: Bool
    /// The packet identifier it arrived with (QoS 1 and 2 only).
    public var packetIdentifier: UInt16?
    /// The 5.0 properties as sent by the broker; the Topic Alias is kept so that it can be shown.
    public var properties: Properties

    /// A message as the client would deliver it; for tests and for code that feeds messages to a consumer.
    public init(
        topic: String, payload: ByteBuffer, qos: QoS = .atMostOnce, retain: Bool = false,
        packetIdentifier: UInt16? = nil, properties: Properties = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }

    /// The payload decoded as UTF-8, with invalid bytes replaced.
    public var payloadString: String { String(buffer: payload) }

    /// The topic a 5.0 request wants its answer on.
    public var responseTopic: String? { properties.responseTopic }
    /// The 5.0 Correlation Data linking a response to its request.
    public var correlationData: ByteBuffer? { properties.correlationData }
    /// The 5.0 User Properties the publisher attached, in order; a name may appear more than once.
    public var userProperties: [(key: String, value: String)] { properties.userProperties }
    /// The 5.0 Content Type the publisher gave the payload (a MIME type, usually).
    public var contentType: String? { properties.contentType }
}
