/// The broker's answer to an UNSUBSCRIBE. In 3.1.1 UNSUBACK carries no reason codes, so each filter reads `.success`.
public struct UnsubscribeResult: Sendable, Hashable {
    /// The UNSUBACK's reason code for each filter, in request order: `.success`, or why the filter was not removed
    /// (`.noSubscriptionExisted`, …).
    public var reasonCodes: [ReasonCode]
    /// The UNSUBACK's 5.0 properties (reason string, user properties); empty in 3.1.1.
    public var properties: Properties

    /// A result as an UNSUBACK would give it.
    public init(reasonCodes: [ReasonCode], properties: Properties = []) {
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}
