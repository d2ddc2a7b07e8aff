import ArgumentParser
import Foundation
import Logging
import NIOCore
import StarlingClient

/// `starling pub`: publishes one message (or one per line of standard input), like mosquitto_pub.
struct PubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publish a message to an MQTT broker (options as mosquitto_pub's).",
        discussion: """
            Give exactly one of -m, -f, -s, -l and -n. The publish waits for the broker's acknowledgement at \
            QoS 1 and 2; -l publishes each line in order.

            \(ClientExit.codes)
            """,
        // -h is the broker host, as in mosquitto_pub; help is --help only.
        helpNames: [.long])

    @OptionGroup var connection: ClientOptions

    @Option(name: [.short, .long], help: "Topic to publish to.")
    var topic: String?

    @Option(name: [.short, .long], help: "Message to publish.")
    var message: String?

    @Option(name: [.short, .long], help: "Publish the contents of this file as the message.")
    var file: String?

    @Flag(name: [.customShort("s"), .customLong("stdin-file")], help: "Publish all of standard input as one message.")
    var stdinFile = false

    @Flag(name: [.customShort("l"), .customLong("stdin-line")], help: "Publish each line of standard input as a message (blank lines are skipped).")
    var stdinLine = false

    @Flag(name: [.customShort("n"), .customLong("null-message")], help: "Publish an empty message.")
    var nullMessage = false

    @Option(name: [.short, .long], help: "QoS: 0, 1 or 2.")
    var qos: UInt8 = 0

    @Flag(name: [.short, .long], help: "Retain the message.")
    var retain = false

    @Option(name: .customShort("M"), help: ArgumentHelp("At most this many QoS 1 and 2 messages awaiting acknowledgement at once (default: as the broker allows).", valueName: "count"))
    var maximumInflight: Int?

    @Option(name: .customLong("repeat"), help: "Publish the message this many times.")
    var repeatCount = 1

    @Option(name: .customLong("repeat-delay"), help: "Seconds to wait between repeated publishes.")
    var repeatDelay = 0.0

    func validate() throws {
        let sources = [message != nil, file != nil, stdinFile, stdinLine, nullMessage].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("Give exactly one of -m, -f, -s, -l and -n.") }
        guard repeatCount >= 1 else { throw ValidationError("--repeat must be at least 1.") }
        guard repeatDelay >= 0 else { throw ValidationError("--repeat-delay cannot be negative.") }
        guard !stdinLine || repeatCount == 1 else { throw ValidationError("--repeat does not apply to -l.") }
        if let maximumInflight, maximumInflight < 1 { throw ValidationError("-M must be at least 1.") }
    }

    func run() async throws {
        connection.bootstrapLogging()
        let resolved = try connection.resolve(propertyCommands: [.publish, .disconnect])
        guard let topic = topic ?? resolved.urlTopic else { throw ValidationError("Give a topic: -t, or the path of an mqtt:// -L URL.") }
        do {
            try TopicName.validate(topic)
        } catch {
            throw ValidationError("Invalid publish topic '\(topic)': it cannot be empty or hold + or #.")
        }
        let qos = try ClientOptions.qos(self.qos, option: "-q")
        var configuration = resolved.configuration
        // A publish is a single shot: a lost connection is an error to report, not a reason to wait.
        configuration.reconnect = .disabled
        configuration.maximumInflightPublishes = maximumInflight
        var publishProperties = resolved.properties[.publish]
        // -D publish topic-alias: the library sends the alias when the broker takes aliases, numbering them itself.
        if publishProperties.topicAlias != nil {
            publishProperties.remove(.topicAlias)
            configuration.usesTopicAliases = true
        }
        let disconnectProperties = resolved.properties[.disconnect]
        do {
            let payload = try singlePayload()
            let client = MQTTClient(configuration: configuration, logger: Logger(label: "starling.pub"))
            try await client.withConnection { client in
                if stdinLine {
                    for await line in ClientStandardStreams.lines() where !line.isEmpty {
                        try await client.publish(topic: topic, payload: line, qos: qos, retain: retain, properties: publishProperties)
                    }
                } else if let payload {
                    for index in 0..<repeatCount {
                        if index > 0 && repeatDelay > 0 { try await Task.sleep(for: .seconds(repeatDelay)) }
                        try await client.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: publishProperties)
                    }
                }
                if !disconnectProperties.isEmpty { await client.disconnect(properties: disconnectProperties) }
            }
        } catch {
            throw ClientExit.failure(error, quiet: connection.quiet)
        }
    }

    /// The message of -m, -f, -s or -n, read before connecting; nil for -l.
    private func singlePayload() throws -> ByteBuffer? {
        if let message { return ByteBuffer(string: message) }
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw MQTTClientError(.invalidConfiguration, "cannot read the file '\(file)'")
            }
            return ByteBuffer(bytes: data)
        }
        if stdinFile { return ByteBuffer(bytes: ClientStandardStreams.readAll()) }
        if nullMessage { return ByteBuffer() }
        return nil
    }
}
