import ArgumentParser
import StarlingClient

/// `-V`: the protocol version, as mosquitto's clients spell it.
struct ClientProtocolVersion: ExpressibleByArgument {
    let version: ProtocolVersion

    init?(argument: String) {
        switch argument.lowercased() {
        case "31", "mqttv31": version = .v3_1
        case "311", "mqttv311": version = .v3_1_1
        case "5", "mqttv5": version = .v5
        default: return nil
        }
    }

    static var allValueStrings: [String] { ["31", "311", "5", "mqttv31", "mqttv311", "mqttv5"] }
}
