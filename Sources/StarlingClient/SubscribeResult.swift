/// The broker's answer to a SUBSCRIBE: one reason code per topic filter, in request order.
public struct SubscribeResult: Sendable, Hashable {
    public var reasonCodes: [ReasonCode]
    public var properties: Properties

    public init(reasonCodes: [ReasonCode], properties: Properties = []) {
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    /// The QoS granted for each filter, or nil where the filter was refused.
    public var grantedQoS: [QoS?] {
        reasonCodes.map { $0.isFailure ? nil : QoS(rawValue: $0.rawValue) }
    }
}
