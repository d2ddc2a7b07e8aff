import ArgumentParser
import Dispatch
import Logging
import StarlingBroker
import StarlingConfiguration

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `serve` options for authentication, access control and the limits that protect the broker from clients.
struct SecurityOptions: ParsableArguments {
    @Option(name: .long, help: "Password file of username:hash lines, as `starling passwd` and mosquitto_passwd write. Anonymous clients are then refused unless --allow-anonymous. Reloaded on SIGHUP.")
    var passwordFile: String?

    @Option(name: .long, help: "ACL file in the format of Mosquitto's acl_file (user, client, topic, pattern lines). Without one every client may use every topic. Reloaded on SIGHUP.")
    var aclFile: String?

    @Flag(name: .long, help: "Let clients without a user name in even with a password file.")
    var allowAnonymous = false

    @Option(name: .long, help: "Also reload the password and ACL files when they change, checking every this many seconds (0: only on SIGHUP).")
    var reloadInterval: Double?

    @Option(name: .long, help: "Largest PUBLISH payload accepted, in bytes (5.0: PUBACK/PUBREC 0x97 above it).")
    var maxPayloadSize: Int?

    @Option(name: .long, help: "PUBLISH packets per second per client (bursts of as many); beyond it 5.0 gets 0x97, others are dropped.")
    var maxPublishRate: Double?

    @Option(name: .long, help: "Payload bytes per second per client (bursts of as many); beyond it as for --max-publish-rate.")
    var maxPublishBandwidth: Double?

    @Option(name: .long, help: "CONNECTs per second from one IP address (bursts of as many, at least 1); beyond it 5.0 gets 0x9F, 3.1.1 0x03.")
    var maxConnectionRate: Double?

    @Option(name: .long, help: "Failed logins one IP address may have in a burst before it must wait (one more every 6 s); 0 for no limit (default: 10).")
    var maxFailedLogins: Int?

    @Option(name: .long, help: "Logins being verified at once (password checks are slow on purpose); beyond it 5.0 gets 0x9F, 3.1.1 0x03, at once. 0 for no bound (default: 4 per core).")
    var maxLoginsInProgress: Int?

    @Option(name: .long, help: "Logins being verified at once for one IP address, refused as for --max-logins-in-progress beyond it; 0 for no bound (default: 4).")
    var maxLoginsInProgressPerAddress: Int?

    @Flag(name: .customLong("use-username-as-clientid"), help: "Make each client's user name its client identifier, whatever it asked for (Mosquitto's use_username_as_clientid); clients without a user name are refused.")
    var useUserNameAsClientIdentifier = false

    @Flag(name: .customLong("clientid-prefixed-by-username"), help: "Refuse (5.0: 0x85, 3.1.1: 0x02) a client identifier other than the user name or the user name, the separator and more; clients without a user name are refused.")
    var clientIdentifierPrefixedByUserName = false

    @Option(name: .customLong("clientid-username-separator"), help: "What follows the user name in a client identifier under --clientid-prefixed-by-username (default: -).")
    var clientIdentifierSeparator: String?

    /// The flags given, by configuration key.
    var flagValues: [(String, (any CustomStringConvertible)?)] {
        [
            ("password_file", passwordFile),
            ("acl_file", aclFile),
            // Left off, the flag must not override the file.
            ("allow_anonymous", allowAnonymous ? true : nil),
            ("reload_interval", reloadInterval),
            ("max_payload_size", maxPayloadSize),
            ("max_publish_rate", maxPublishRate),
            ("max_publish_bandwidth", maxPublishBandwidth),
            ("max_connection_rate", maxConnectionRate),
            ("max_failed_logins", maxFailedLogins),
            ("max_logins_in_progress", maxLoginsInProgress),
            ("max_logins_in_progress_per_address", maxLoginsInProgressPerAddress),
            ("use_username_as_clientid", useUserNameAsClientIdentifier ? true : nil),
            ("clientid_prefixed_by_username", clientIdentifierPrefixedByUserName ? true : nil),
            ("clientid_username_separator", clientIdentifierSeparator),
        ]
    }

    /// Sets up the configuration from the settings (file, environment and flags together) and reads the password
    /// and ACL files, which the broker is given beside it; throws, with the file and line, if one is not valid.
    static func apply(_ settings: ServerConfiguration, to configuration: inout BrokerConfiguration) throws -> SecurityFiles {
        var files = SecurityFiles()
        if let passwordFile = settings.passwordFile {
            files.passwords = try PasswordFileAuthenticator(path: passwordFile)
        }
        if let aclFile = settings.aclFile {
            files.accessControl = try AccessControl(path: aclFile)
        }
        if settings.allowAnonymous { configuration.allowAnonymous = true }
        if let size = settings.maximumPayloadSize { configuration.limits.maximumPayloadSize = size }
        if let rate = settings.publishRate { configuration.limits.publishRate = RateLimit(perSecond: rate) }
        if let rate = settings.publishBandwidth { configuration.limits.publishBandwidth = RateLimit(perSecond: rate) }
        if let rate = settings.connectionRate { configuration.limits.connectionRatePerAddress = RateLimit(perSecond: rate) }
        if let failures = settings.failedLogins {
            configuration.limits.failedLoginsPerAddress = failures > 0 ? RateLimit(perSecond: 1.0 / 6, burst: Double(failures)) : nil
        }
        if let maximum = settings.loginsInProgress { configuration.limits.maximumAuthentications = maximum > 0 ? maximum : nil }
        if let maximum = settings.loginsInProgressPerAddress {
            configuration.limits.maximumAuthenticationsPerAddress = maximum > 0 ? maximum : nil
        }
        if settings.userNameAsClientIdentifier {
            configuration.clientIdentifierBinding = .userName
        } else if settings.clientIdentifierPrefixedByUserName {
            configuration.clientIdentifierBinding = .prefixedByUserName(separator: settings.clientIdentifierSeparator)
        }
        return files
    }
}

/// The password and ACL files the broker was started with, as its authenticator and access control; reread on
/// SIGHUP.
struct SecurityFiles: Sendable {
    var passwords: PasswordFileAuthenticator?
    var accessControl: AccessControl?

    /// Rereads both files; a file that is not valid leaves its rules in force, and the log says why.
    func reload(logger: Logger) {
        if let passwords, let path = passwords.path {
            do {
                try passwords.reload()
                logger.notice("password file reloaded", metadata: ["path": "\(path)", "users": "\(passwords.file.users.count)"])
            } catch {
                logger.error("password file not reloaded; the previous users stay in force", metadata: ["error": "\(error)"])
            }
        }
        if let accessControl, let path = accessControl.path {
            do {
                try accessControl.reload()
                logger.notice("ACL file reloaded", metadata: ["path": "\(path)"])
            } catch {
                logger.error("ACL file not reloaded; the previous rules stay in force", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reloads whenever the modification time or size of either file changes, checking every `interval`, until
    /// the returned task is cancelled. An editor's half-written file is refused like any invalid one, and the
    /// next change (its last write) is picked up.
    func watch(every interval: Double, logger: Logger) -> Task<Void, Never>? {
        let paths = [passwords?.path, accessControl?.path].compactMap { $0 }
        guard interval > 0, !paths.isEmpty else { return nil }
        return Task {
            var last = paths.map(Self.fingerprint)
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1_000)))
                let now = paths.map(Self.fingerprint)
                if now != last {
                    last = now
                    reload(logger: logger)
                }
            }
        }
    }

    /// Modification time and size, or nil if the file cannot be examined.
    private static func fingerprint(_ path: String) -> [Int]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        return [Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        #else
        return [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        #endif
    }

    /// Reloads on every SIGHUP until the returned source is cancelled.
    func reloadOnHangUp(logger: Logger) -> any DispatchSourceSignal {
        #if canImport(Darwin)
        // Darwin delivers signals to the source through kqueue, which sees them only once the default action
        // (ending the process) is off; on Linux Dispatch installs a handler of its own.
        signal(SIGHUP, SIG_IGN)
        #endif
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { reload(logger: logger) }
        source.resume()
        return source
    }
}
