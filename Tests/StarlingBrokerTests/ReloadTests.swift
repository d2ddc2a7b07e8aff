import Foundation
import MQTT
import NIOCore
import StarlingBroker
import StarlingTesting
import Testing

/// Rereading the password and ACL files (what SIGHUP does in `starling serve`) while clients stay connected; a
/// file that is not valid leaves the rules in force.
@Suite struct ReloadTests {
    /// A scratch folder removed afterwards.
    static func withFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("starling-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder)
    }

    static func line(_ user: String, _ password: String) -> String {
        "\(user):\(PasswordHash(password: Array(password.utf8), iterations: 1_000))\n"
    }

    @Test func reloadingFilesChangesRulesWithoutDroppingClients() async throws {
        try await Self.withFolder { folder in
            let passwords = folder.appendingPathComponent("passwords")
            let acl = folder.appendingPathComponent("acl")
            try Self.line("alice", "secret").write(to: passwords, atomically: true, encoding: .utf8)
            try "user alice\ntopic readwrite alice/#\n".write(to: acl, atomically: true, encoding: .utf8)
            let authenticator = try PasswordFileAuthenticator(path: passwords.path)
            let control = try AccessControl(path: acl.path)
            try await TestBroker.with(authenticator: authenticator, accessControl: control) { broker in
                let alice = try await AuthenticationTests.connect(broker, "alice", userName: "alice", password: "secret")
                #expect(try await alice.expectConnAck().reasonCode == .success)
                #expect(try await alice.subscribe("alice/#") == [.grantedQoS0])

                try (Self.line("alice", "secret") + Self.line("bob", "pw")).write(to: passwords, atomically: true, encoding: .utf8)
                try "user alice\ntopic readwrite alice/#\ntopic read news\nuser bob\ntopic write alice/#\n".write(to: acl, atomically: true, encoding: .utf8)
                try authenticator.reload()
                try control.reload()

                let bob = try await AuthenticationTests.connect(broker, "bob", userName: "bob", password: "pw")
                #expect(try await bob.expectConnAck().reasonCode == .success)
                #expect(try await bob.publishQoS1("alice/hello", "hi").reasonCode == .success)
                #expect(try await alice.expectPublish().payloadString == "hi")
                #expect(try await alice.subscribe("news", packetIdentifier: 2) == [.grantedQoS0])
            }
        }
    }

    /// A `topic deny` line that lost its topic makes the file invalid: the reload fails and names the line,
    /// and the rules in force stay, rather than a grant on the topic "deny" replacing them.
    @Test func aDenyLineWithoutATopicKeepsTheRulesInForce() async throws {
        try await Self.withFolder { folder in
            let acl = folder.appendingPathComponent("acl")
            try "user alice\ntopic read alice/#\ntopic deny alice/secret/#\n".write(to: acl, atomically: true, encoding: .utf8)
            let control = try AccessControl(path: acl.path)
            try "user alice\ntopic read alice/#\ntopic deny\n".write(to: acl, atomically: true, encoding: .utf8)
            #expect {
                try control.reload()
            } throws: { error in
                (error as? ConfigurationFileError)?.line == 3
            }
            let alice = control.list.rules(userName: "alice", clientIdentifier: "a")
            #expect(!alice.mayReceive("alice/secret/plans"))
            #expect(!alice.mayPublish("deny"))
        }
    }

    @Test func anInvalidFileKeepsTheRulesInForce() async throws {
        try await Self.withFolder { folder in
            let passwords = folder.appendingPathComponent("passwords")
            let acl = folder.appendingPathComponent("acl")
            try Self.line("alice", "secret").write(to: passwords, atomically: true, encoding: .utf8)
            try "user alice\ntopic readwrite alice/#\n".write(to: acl, atomically: true, encoding: .utf8)
            let authenticator = try PasswordFileAuthenticator(path: passwords.path)
            let control = try AccessControl(path: acl.path)

            try "alice:not-a-hash\n".write(to: passwords, atomically: true, encoding: .utf8)
            try "user alice\ntopic readwrite alice/#/oops\n".write(to: acl, atomically: true, encoding: .utf8)
            #expect(throws: ConfigurationFileError.self) { try authenticator.reload() }
            #expect(throws: ConfigurationFileError.self) { try control.reload() }
            try FileManager.default.removeItem(at: passwords)
            #expect(throws: ConfigurationFileError.self) { try authenticator.reload() }

            try await TestBroker.with(authenticator: authenticator, accessControl: control) { broker in
                let alice = try await AuthenticationTests.connect(broker, "alice", userName: "alice", password: "secret")
                #expect(try await alice.expectConnAck().reasonCode == .success)
                #expect(try await alice.subscribe("alice/#") == [.grantedQoS0])
            }
        }
    }
}
