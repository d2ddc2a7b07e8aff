/// How the broker acknowledged a publish.
public struct PublishResult: Sendable, Hashable {
    /// PUBACK's reason code for QoS 1, PUBREC's for QoS 2, `.success` for QoS 0 (which has no acknowledgement).
    /// In 5.0 it may be `.noMatchingSubscribers` (0x10); failures are thrown as `MQTTClientError` instead.
    public var reasonCode: ReasonCode
    /// The acknowledgement's 5.0 properties (reason string, user properties).
    public var properties: Properties

    /// A result as an acknowledgement would give it; the defaults are what a QoS 0 publish returns.
    public init(reasonCode: ReasonCode = .success, properties: Properties = []) {
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
