/// The broker's answer to a SUBSCRIBE: one reason code per topic filter, in request order.
public struct SubscribeResult: Sendable, Hashable {
    /// The SUBACK's reason code for each filter: the granted QoS (0x00–0x02), or a failure (0x80 and above).
    public var reasonCodes: [ReasonCode]
    /// The SUBACK's 5.0 properties (reason string, user properties); empty in 3.1.1.
    public var properties: Properties

    /// A result as a SUBACK would give it.
    public init(reasonCodes: [ReasonCode], properties: Properties = []) {
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    /// The QoS granted for each filter, or nil where the filter was refused.
    public var grantedQoS: [QoS?] {
        reasonCodes.map { $0.isFailure ? nil : QoS(rawValue: $0.rawValue) }
    }
}
