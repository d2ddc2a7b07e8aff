import ArgumentParser
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
}
