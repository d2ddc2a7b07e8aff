import MQTT
import StarlingBroker

/// What a node adds to a message it sends over a cluster link, taken off again by the node receiving it: the
/// sequence number of its delivery to the link's session (`clusterSequenceProperty`) and the shared
/// subscriptions whose groups are to get it there (`clusterShareProperty`).
struct LinkStamps {
    var sequence: UInt64?
    var shares: [String] = []

    /// Takes the stamps out of `properties`.
    init(taking properties: inout Properties) {
        var sequence: UInt64?
        var shares: [String] = []
        properties.elements.removeAll { property in
            switch property {
            case .userProperty(clusterSequenceProperty, let value):
                sequence = UInt64(value)
                return true
            case .userProperty(clusterShareProperty, let share):
                shares.append(share)
                return true
            default:
                return false
            }
        }
        self.sequence = sequence
        self.shares = shares
    }
}
