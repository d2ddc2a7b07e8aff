import ArgumentParser
import Foundation
import StarlingBroker

@main
struct Starling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling",
        abstract: "An MQTT 3.1, 3.1.1 and 5.0 broker, with command-line clients.",
        // The one version of Starling, which `$SYS/broker/version` gives too.
        version: MQTTBroker.version,
        subcommands: [ServeCommand.self, PubCommand.self, SubCommand.self, BenchCommand.self, PasswdCommand.self, CtlCommand.self],
        defaultSubcommand: ServeCommand.self
    )

    /// As ArgumentParser's own, but for the option suggestions it prints, which are dropped when they are not a
    /// near miss (`--pretty` is not a typing error for `--property`).
    static func main() async {
        HugePages.restartWithHugePagesIfServing(CommandLine.arguments)
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = OptionSuggestion.withoutFarSuggestions(fullMessage(for: error))
            if !message.isEmpty {
                let stream = code == .success ? FileHandle.standardOutput : FileHandle.standardError
                stream.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
            }
            Foundation.exit(code.rawValue)
        }
    }
}
