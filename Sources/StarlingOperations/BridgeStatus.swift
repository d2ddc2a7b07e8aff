/// A bridge to another broker as the operations listener shows it: `/metrics` and `GET /api/v1/bridges`.
public struct BridgeStatus: Sendable, Hashable {
    public var name: String
    public var isUp: Bool
    /// Messages sent to the remote broker, and brought in from it, since the bridge started.
    public var forwardedOut: UInt64
    public var forwardedIn: UInt64

    public init(name: String, isUp: Bool, forwardedOut: UInt64, forwardedIn: UInt64) {
        self.name = name
        self.isUp = isUp
        self.forwardedOut = forwardedOut
        self.forwardedIn = forwardedIn
    }
}
