import StarlingBroker
import Testing

/// The password file format of Mosquitto 2 (`mosquitto_passwd`), read and written.
@Suite struct PasswordFileTests {
    /// Written by `mosquitto_passwd -c -b pw alice 'wonder land'`, `-b pw bob secret` and
    /// `-H sha512 -b pw carol carol-pass` (Mosquitto 2.0).
    static let mosquittoFile = """
        alice:$7$101$0yobq1oBcMmBK57L$VL9/Ek+/tshLRDi3Yt0HlDYyiNAhHlBaLB7YqUCoHTfbX9guMYJ1bDa3OLJY8hxhNRstrKxFmyP5VkkX3GaqKQ==
        bob:$7$101$VS8fs8+vk9xk/8Cx$FAQOWf8nRrDmKo0mzutddb4FopEl5tN5DKqkZdojSQuQa9BAhJiYJGSaeEq4vg4yhIOcqqAR08yOP7bKJ3ALKQ==
        carol:$6$X6m5jfk6Tk9DyVLt$nfWUmJkN6S3kLSi6Kjwn4NehPe8yl7Fixq9i4GADZXttkUSphQRqr1OwVRV1VBcb7+GW5DlUSXtFQe5q0tq8Qw==

        """

    @Test func filesWrittenByMosquittoPasswdVerify() throws {
        let file = try PasswordFile(contents: Self.mosquittoFile)
        #expect(file.users.count == 3)
        let alice = try #require(file.users["alice"])
        #expect(alice.algorithm == .pbkdf2SHA512(iterations: 101))
        #expect(alice.verify(Array("wonder land".utf8)))
        #expect(!alice.verify(Array("wonderland".utf8)))
        #expect(try #require(file.users["bob"]).verify(Array("secret".utf8)))
        #expect(!(try #require(file.users["bob"])).verify(Array("Secret".utf8)))
        let carol = try #require(file.users["carol"])
        #expect(carol.algorithm == .sha512)
        #expect(carol.verify(Array("carol-pass".utf8)))
        #expect(!carol.verify(Array("".utf8)))
    }

    @Test func hashesRoundTripThroughTheirNotation() throws {
        let hash = PasswordHash(password: Array("pässword".utf8), iterations: 1_000)
        #expect(hash.description.hasPrefix("$7$1000$"))
        let parsed = try #require(PasswordHash(encoded: hash.description))
        #expect(parsed == hash)
        #expect(parsed.verify(Array("pässword".utf8)))
        #expect(!parsed.verify(Array("password".utf8)))
        // A fresh salt each time: the same password never gives the same line twice.
        #expect(PasswordHash(password: Array("x".utf8), iterations: 1_000) != PasswordHash(password: Array("x".utf8), iterations: 1_000))
    }

    @Test func theDefaultIsSlowPBKDF2() {
        #expect(PasswordHash.defaultIterations >= 210_000)
    }

    @Test(arguments: [
        ("alice", 1, "expected username:hash"),
        ("alice:plain", 1, "is not $7$"),
        ("# users\n\nbob:$7$101$VS8fs8+vk9xk/8Cx$short", 3, "is not $7$"),
        ("alice:$7$0$0yobq1oBcMmBK57L$VL9/Ek+/tshLRDi3Yt0HlDYyiNAhHlBaLB7YqUCoHTfbX9guMYJ1bDa3OLJY8hxhNRstrKxFmyP5VkkX3GaqKQ==", 1, "is not $7$"),
        (":$6$X6m5jfk6Tk9DyVLt$nfWUmJkN6S3kLSi6Kjwn4NehPe8yl7Fixq9i4GADZXttkUSphQRqr1OwVRV1VBcb7+GW5DlUSXtFQe5q0tq8Qw==", 1, "expected username:hash"),
    ])
    func invalidLinesAreReportedWithTheirNumber(contents: String, line: Int, reason: String) {
        #expect {
            try PasswordFile(contents: contents)
        } throws: { error in
            guard let error = error as? ConfigurationFileError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }

    @Test func aUserListedTwiceIsAnError() throws {
        let line = Self.mosquittoFile.split(separator: "\n")[1]
        #expect(throws: ConfigurationFileError.self) { try PasswordFile(contents: "\(line)\n\(line)\n") }
    }

    @Test func editingKeepsOtherLinesAndReplacesOrRemovesTheUser() throws {
        let hash = PasswordHash(password: Array("new".utf8), iterations: 1_000)
        let (replaced, found) = PasswordFile.editing(Self.mosquittoFile, user: "bob", hash: hash)
        #expect(found)
        let file = try PasswordFile(contents: replaced)
        #expect(file.users["bob"] == hash)
        #expect(replaced.split(separator: "\n").first == Self.mosquittoFile.split(separator: "\n").first)

        let (removed, wasThere) = PasswordFile.editing(replaced, user: "alice", hash: nil)
        #expect(wasThere)
        #expect(try PasswordFile(contents: removed).users.keys.sorted() == ["bob", "carol"])

        let (added, existed) = PasswordFile.editing("", user: "dave", hash: hash)
        #expect(!existed)
        #expect(added == "dave:\(hash)\n")
    }

    @Test func userNamesThatWouldBreakTheFileAreRefused() {
        #expect(PasswordFile.problem(withUserName: "alice") == nil)
        #expect(PasswordFile.problem(withUserName: "") != nil)
        #expect(PasswordFile.problem(withUserName: "a:b") != nil)
        #expect(PasswordFile.problem(withUserName: "a\nb") != nil)
    }
}
