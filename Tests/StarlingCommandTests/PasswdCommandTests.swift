import Foundation
import StarlingBroker
import Testing

/// `starling passwd` run as a program: the file it writes, as `mosquitto_passwd` would.
@Suite(.timeLimit(.minutes(1)))
struct PasswdCommandTests {
    static func withFile<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("starling-passwd-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    @Test func createSetAndDelete() async throws {
        try await Self.withFile { path in
            let created = try await CommandLineTests.run(["passwd", "-c", "-b", "-I", "1000", path, "alice", "wonder land"])
            #expect(created.status == 0, "\(created.errors)")
            let added = try await CommandLineTests.run(["passwd", "-b", "-I", "1000", path, "bob", "secret"])
            #expect(added.status == 0, "\(added.errors)")
            var file = try PasswordFile(path: path)
            #expect(file.users.keys.sorted() == ["alice", "bob"])
            #expect(try #require(file.users["alice"]).verify(Array("wonder land".utf8)))
            #expect(try #require(file.users["alice"]).algorithm == .pbkdf2SHA512(iterations: 1000))
            // Only its owner may read it.
            let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(permissions == 0o600)

            let changed = try await CommandLineTests.run(["passwd", "-b", path, "bob", "changed"])
            #expect(changed.status == 0, "\(changed.errors)")
            file = try PasswordFile(path: path)
            #expect(try #require(file.users["bob"]).verify(Array("changed".utf8)))
            #expect(try #require(file.users["bob"]).algorithm == .pbkdf2SHA512(iterations: PasswordHash.defaultIterations))

            let deleted = try await CommandLineTests.run(["passwd", "-D", path, "bob"])
            #expect(deleted.status == 0, "\(deleted.errors)")
            #expect(try PasswordFile(path: path).users.keys.sorted() == ["alice"])
        }
    }

    @Test func thePasswordIsAskedTwiceWithoutB() async throws {
        try await Self.withFile { path in
            let created = try await CommandLineTests.run(["passwd", "-c", "-I", "1000", path, "carol"], input: "typed\ntyped\n")
            #expect(created.status == 0, "\(created.errors)")
            #expect(try #require(try PasswordFile(path: path).users["carol"]).verify(Array("typed".utf8)))
            let mismatch = try await CommandLineTests.run(["passwd", "-I", "1000", path, "carol"], input: "one\ntwo\n")
            #expect(mismatch.status != 0)
            #expect(mismatch.errors.contains("do not match"))
        }
    }

    @Test func mistakesAreReported() async throws {
        try await Self.withFile { path in
            let missing = try await CommandLineTests.run(["passwd", "-b", path, "alice", "x"])
            #expect(missing.status != 0)
            #expect(missing.errors.contains("use -c to create it"))
            let colon = try await CommandLineTests.run(["passwd", "-c", "-b", path, "a:b", "x"])
            #expect(colon.status != 0)
            #expect(!FileManager.default.fileExists(atPath: path))
            _ = try await CommandLineTests.run(["passwd", "-c", "-b", "-I", "1000", path, "alice", "x"])
            let unknown = try await CommandLineTests.run(["passwd", "-D", path, "nobody"])
            #expect(unknown.status != 0)
            #expect(unknown.errors.contains("not in"))
        }
    }
}
