import ArgumentParser
import StarlingBroker

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `starling passwd`: manages a password file the way `mosquitto_passwd` does, in the same format.
struct PasswdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Create, set and delete users of a password file (the format of mosquitto_passwd).",
        discussion: """
            starling passwd -c FILE USER        create (or overwrite) FILE with USER, asking for the password
            starling passwd FILE USER           add USER or change its password, asking for it
            starling passwd -b FILE USER PASS   the same with the password on the command line
            starling passwd -D FILE USER        delete USER
            """
    )

    @Flag(name: .customShort("c"), help: "Create a new file, replacing any existing one.")
    var create = false

    @Flag(name: .customShort("b"), help: "Take the password from the command line instead of asking for it.")
    var batch = false

    @Flag(name: .customShort("D"), help: "Delete the user.")
    var delete = false

    @Option(name: .customShort("I"), help: "PBKDF2-SHA512 iterations.")
    var iterations = PasswordHash.defaultIterations

    @Argument(help: "The password file.")
    var file: String

    @Argument(help: "The user name.")
    var user: String

    @Argument(help: "The password (with -b only).")
    var password: String?

    func validate() throws {
        if create && delete { throw ValidationError("-c and -D cannot be used together.") }
        if batch && password == nil { throw ValidationError("-b needs the password after the user name.") }
        if !batch && password != nil { throw ValidationError("a password on the command line needs -b.") }
        if delete && password != nil { throw ValidationError("-D takes no password.") }
        if iterations < 1 { throw ValidationError("-I must be at least 1.") }
        if let problem = PasswordFile.problem(withUserName: user) { throw ValidationError("\(problem).") }
    }

    func run() throws {
        var contents = ""
        if !create {
            do {
                contents = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw PasswdFailure("cannot read \(file): \(error.localizedDescription)\(delete ? "" : " (use -c to create it)")")
            }
        }
        let hash: PasswordHash?
        if delete {
            hash = nil
        } else {
            let secret = try password ?? Self.askPassword()
            hash = PasswordHash(password: Array(secret.utf8), iterations: iterations)
        }
        let (edited, found) = PasswordFile.editing(contents, user: user, hash: hash)
        if delete && !found { throw PasswdFailure("user \(user) is not in \(file).") }
        try Self.save(edited, to: file)
    }

    /// Asks twice on the terminal, without echo.
    private static func askPassword() throws -> String {
        let first = try readHidden(prompt: "Password: ")
        let second = try readHidden(prompt: "Reenter password: ")
        guard first == second else { throw PasswdFailure("the passwords do not match.") }
        guard !first.isEmpty else { throw PasswdFailure("the password is empty.") }
        return first
    }

    private static func readHidden(prompt: String) throws -> String {
        ClientStandardStreams.write(Array(prompt.utf8), to: ClientStandardStreams.standardError)
        var original = termios()
        let isTerminal = tcgetattr(STDIN_FILENO, &original) == 0
        if isTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                ClientStandardStreams.write(Array("\n".utf8), to: ClientStandardStreams.standardError)
            }
        }
        guard let line = readLine(strippingNewline: true) else { throw PasswdFailure("no password given.") }
        return line
    }

    /// Writes through a temporary file and a rename, so that a broker reloading meanwhile reads either version
    /// whole; only the owner may read it.
    private static func save(_ contents: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw PasswdFailure("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                close(descriptor)
                unlink(temporary)
                throw PasswdFailure("cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            written += count
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw PasswdFailure("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A failure while running, reported without the usage text.
struct PasswdFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
