import Foundation
import StarlingBroker

// A broker that lets in only the users of a password file (written by `starling passwd` or mosquitto_passwd),
// gives each the topics of an ACL file, and adds a rule of its own: payloads on `audit/` topics are stamped
// with the publisher's identity.
//
//     swift run starling passwd -c passwords alice
//     printf 'user alice\ntopic readwrite alice/#\ntopic write audit/#\n' > acl
//     swift run SecureBroker passwords acl
struct Stamp: PublishAuthorizer {
    func authorizePublish(_ message: Message, from client: ClientInfo) async throws -> PublishAuthorization {
        guard message.topic.hasPrefix("audit/") else { return .allow }
        var stamped = message
        stamped.payload.writeString(" (from \(client.userName ?? client.clientIdentifier))")
        return .rewrite(stamped)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: SecureBroker PASSWORD_FILE ACL_FILE")
    exit(2)
}
let broker = MQTTBroker(
    configuration: BrokerConfiguration(listeners: [.init(host: "127.0.0.1", port: 1883)]),
    authenticator: try PasswordFileAuthenticator(path: arguments[1]),
    accessControl: try AccessControl(path: arguments[2]),
    hooks: BrokerHooks(publishAuthorizer: Stamp()))
try await broker.run()
