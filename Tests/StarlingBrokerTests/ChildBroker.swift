import Foundation
import StarlingTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A `starling serve` process started by a test, for what can only be measured from outside a broker: its memory.
/// Runs under `timeout`, so that a test that dies cannot leave it behind.
struct ChildBroker: Sendable {
    let process: ChildProcess
    /// The broker's own process, `timeout`'s child.
    let pid: pid_t
    /// The port of its one listener.
    let port: Int
    let configurationFile: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The `starling` program built beside this test bundle (or the one STARLING_CLI names).
    static let executable: String = {
        if let override = ProcessInfo.processInfo.environment["STARLING_CLI"] { return override }
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return bundle.appendingPathComponent("starling").path
    }()

    /// Starts a broker with the configuration `yaml`, which must name one listener on port 0 of 127.0.0.1, and
    /// waits until it listens.
    static func start(yaml: String) async throws -> ChildBroker {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "\(executable) is missing: build the package first (swift build)")
        }
        let file = NSTemporaryDirectory() + "starling-child-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let process = try ChildProcess("/usr/bin/timeout", ["120", executable, "serve", "--config", file, "--memory"])
        let log = await ChildProcess.read(process.standardError, until: "listening")
        guard let port = Self.port(inLog: log), let pid = Self.child(of: process.pid) else {
            process.signal(SIGTERM)
            _ = await process.exitStatus()
            try? FileManager.default.removeItem(atPath: file)
            throw Failure(description: "the broker did not start: \(log)")
        }
        return ChildBroker(process: process, pid: pid, port: port, configurationFile: file)
    }

    /// Stops the broker and waits for it to exit.
    func stop() async {
        process.signal(SIGTERM)
        _ = await process.exitStatus()
        try? FileManager.default.removeItem(atPath: configurationFile)
    }

    /// The broker's resident memory, from /proc.
    func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
        else { throw Failure(description: "no VmRSS in /proc/\(pid)/status") }
        return kilobytes * 1_024
    }

    /// The port in the `listening` line: `address=ws://127.0.0.1:41234/mqtt`.
    static func port(inLog log: String) -> Int? {
        guard let range = log.range(of: "127.0.0.1:") else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }

    /// `timeout` runs the broker as its only child.
    private static func child(of pid: pid_t) -> pid_t? {
        let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)
        return children?.split(separator: " ").first.flatMap { pid_t($0) }
    }
}
