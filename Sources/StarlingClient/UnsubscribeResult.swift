/// The broker's answer to an UNSUBSCRIBE. In 3.1.1 UNSUBACK carries no reason codes, so each filter reads `.success`.
public struct UnsubscribeResult: Sendable, Hashable {
    public var reasonCodes: [ReasonCode]
    public var properties: Properties

    public init(reasonCodes: [ReasonCode], properties: Properties = []) {
        self.reasonCodes = reasonCodes
        self.properties = properties
    }
}
