import ArgumentParser
import StarlingClient

/// How `pub` and `sub` end: the exit codes scripts can rely on, and errors as one line on standard error.
enum ClientExit {
    /// The help text shared by both commands.
    static let codes = """
        Exit status: 0 on success; the broker's CONNACK reason code when it refuses the connection (3.1.1: 1-5, \
        for example 5 "not authorized"; 5.0: 128-162, for example 135 "not authorized"); 1 for any other error \
        (broker unreachable, TLS failure, connection lost, publish or subscription refused, bad arguments in files).
        """

    static func code(for error: any Error) -> Int32 {
        if let error = error as? MQTTClientError, error.code == .connectionRefused, let reasonCode = error.reasonCode,
            reasonCode.rawValue != 0
        {
            return Int32(reasonCode.rawValue)
        }
        return 1
    }

    /// Prints `error` on one line (unless `quiet`) and returns the exit code to end with.
    static func failure(_ error: any Error, quiet: Bool) -> ExitCode {
        if let exit = error as? ExitCode { return exit }
        if !quiet {
            if let error = error as? MQTTClientError, error.message == MQTTClientError.tlsExpected {
                printError("Error: \(error); give --cafile or --tls-use-os-certs (or an mqtts:// URL).")
            } else {
                printError("Error: \(error)")
            }
        }
        return ExitCode(code(for: error))
    }

    static func printError(_ text: String) {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
        ClientStandardStreams.write(Array(line.utf8), to: ClientStandardStreams.standardError)
    }
}
