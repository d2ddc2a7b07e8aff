import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StarlingClient

/// `starling sub`: subscribes and prints messages, like mosquitto_sub.
struct SubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Subscribe to topics on an MQTT broker and print the messages (options as mosquitto_sub's).",
        discussion: """
            Prints each message's payload (-v: topic and payload; -F: a format string as mosquitto_sub's, with \
            %t %p %q %r %m %l %I %U %j %J %x %X %A %C %D %E %F %P %R %S and %%; --json: one JSON object per \
            message). The connection is kept up: the client reconnects and subscribes again if needed.

            \(ClientExit.codes) 27 when -W ends the wait before -C messages arrived.
            """,
        // -h is the broker host, as in mosquitto_sub; help is --help only.
        helpNames: [.long])

    /// mosquitto_sub's exit status when -W runs out.
    static let timedOutStatus: Int32 = 27

    @OptionGroup var connection: ClientOptions

    @Option(name: [.short, .long], help: "Topic filter to subscribe to; may be repeated.")
    var topic: [String] = []

    @Option(name: [.customShort("T"), .customLong("filter-out")], help: "Topic filter whose messages are not printed; may be repeated.")
    var filterOut: [String] = []

    @Option(name: [.customShort("U"), .customLong("unsubscribe")], help: "Topic filter to unsubscribe from (for example one a kept session still has); may be repeated.")
    var unsubscribe: [String] = []

    @Option(name: [.short, .long], help: "QoS to subscribe with: 0, 1 or 2.")
    var qos: UInt8 = 0

    @Flag(name: [.short, .long], help: "Print the topic before each payload.")
    var verbose = false

    @Option(name: .customShort("C"), help: ArgumentHelp("Exit after this many messages.", valueName: "count"))
    var count: Int?

    @Option(name: .customShort("W"), help: ArgumentHelp("Exit with status 27 after this many seconds (unless -C was reached first).", valueName: "seconds"))
    var timeout: Int?

    @Flag(name: .customShort("R"), help: "Do not print stale (retained) messages.")
    var noStale = false

    @Flag(name: .customLong("retained-only"), help: "Print only retained messages; exit at the first message that is not.")
    var retainedOnly = false

    @Option(name: .customShort("F"), help: ArgumentHelp("Print each message with this format (see above).", valueName: "format"))
    var format: String?

    @Flag(name: .long, help: "Print each message as a JSON object on its own line.")
    var json = false

    @Flag(name: .long, help: "Print JSON (--json, %j, %J) laid out over several lines.")
    var pretty = false

    @Flag(name: .customLong("remove-retained"), help: "Clear each retained message received (an empty retained message to its topic); -T keeps a topic's.")
    var removeRetained = false

    @Option(name: .customLong("random-filter"), help: ArgumentHelp("Print only this percentage of the messages, chosen at random (0.1 to 100).", valueName: "percent"))
    var randomFilter: Double?

    @Flag(name: .customShort("N"), help: "Do not add an end of line after each message.")
    var noEndOfLine = false

    @Flag(name: .customShort("E"), help: "Exit once the subscriptions are acknowledged.")
    var exitAfterSubscribing = false

    @Flag(name: .customLong("nl"), help: "5.0 No Local: do not receive this client's own messages.")
    var noLocal = false

    @Flag(name: .customLong("rap"), help: "5.0 Retain As Published: keep the retain flag of forwarded messages.")
    var retainAsPublished = false

    @Option(name: .customLong("retain-handling"), help: "5.0 Retain Handling: 0 send retained messages, 1 only for new subscriptions, 2 never.")
    var retainHandling: UInt8 = 0

    func validate() throws {
        guard !topic.isEmpty || !unsubscribe.isEmpty || connection.url != nil else {
            throw ValidationError("Give at least one topic: -t (or -U).")
        }
        if let count, count < 1 { throw ValidationError("-C must be at least 1.") }
        if let timeout, timeout < 1 { throw ValidationError("-W must be at least 1 second.") }
        guard [format != nil, json, verbose].filter({ $0 }).count <= 1 else { throw ValidationError("Give at most one of -F, --json and -v.") }
        guard !(noStale && retainedOnly) else { throw ValidationError("-R and --retained-only exclude each other.") }
        if let randomFilter, !(0.1...100).contains(randomFilter) { throw ValidationError("--random-filter must be from 0.1 to 100.") }
    }

    func run() async throws {
        connection.bootstrapLogging()
        let resolved = try connection.resolve(propertyCommands: [.subscribe, .unsubscribe, .disconnect])
        let topics = topic + (resolved.urlTopic.map { [$0] } ?? [])
        guard !topics.isEmpty || !unsubscribe.isEmpty else { throw ValidationError("Give at least one topic: -t (or -U).") }
        var hidden: [TopicFilter] = []
        for filter in topics + unsubscribe + filterOut {
            guard let parsed = try? TopicFilter(filter) else {
                throw ValidationError("Invalid topic filter '\(filter)': are all + and # wildcards correct?")
            }
            if filterOut.contains(filter) { hidden.append(parsed) }
        }
        guard let handling = SubscriptionOptions.RetainHandling(rawValue: retainHandling) else {
            throw ValidationError("--retain-handling must be 0, 1 or 2.")
        }
        let options = SubscriptionOptions(
            qos: try ClientOptions.qos(qos, option: "-q"), noLocal: noLocal, retainAsPublished: retainAsPublished,
            retainHandling: handling)
        let style: ClientMessageFormatter.Style = format.map { .format($0) } ?? (json ? .json : (verbose ? .verbose : .payload))
        let printer = Printer(
            formatter: ClientMessageFormatter(style: style, endOfLine: !noEndOfLine, prettyJSON: pretty), hidden: hidden,
            noStale: noStale, retainedOnly: retainedOnly, count: count, exitAfterSubscribing: exitAfterSubscribing,
            quiet: connection.quiet, printedShare: randomFilter.map { $0 / 100 } ?? 1)
        let properties = resolved.properties
        let unsubscribe = self.unsubscribe
        let removeRetained = self.removeRetained
        let client = MQTTClient(configuration: resolved.configuration, logger: Logger(label: "starling.sub"))
        // Registered before connecting, so that what a kept session delivers right after CONNACK is printed too.
        let pending = topics.isEmpty
            ? nil
            // What a kept session's earlier subscriptions bring is printed too, as mosquitto_sub prints it.
            : client.makeSubscription(
                to: topics.map { .init(topicFilter: $0, options: options) }, properties: properties[.subscribe],
                receivingUnclaimed: true)

        // Set before the timeout ends the connection, which may then finish before the timeout's task does.
        let timedOut = NIOLockedValueBox(false)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                if let timeout {
                    group.addTask {
                        try await Task.sleep(for: .seconds(timeout))
                        timedOut.withLockedValue { $0 = true }
                        // Before the subscription's stream is cancelled, which would unsubscribe a kept session.
                        client.beginDisconnect()
                    }
                }
                group.addTask {
                    try await client.withConnection { client in
                        if !unsubscribe.isEmpty { try await client.unsubscribe(from: unsubscribe, properties: properties[.unsubscribe]) }
                        if let pending {
                            try await printer.print(pending, removingRetained: removeRetained ? { topic in
                                // As mosquitto_sub: an empty retained message at QoS 1 clears the topic.
                                try await client.publish(topic: topic, payload: ByteBuffer(), qos: .atLeastOnce, retain: true)
                            } : nil) {
                                // Before the subscription's stream ends, which would unsubscribe: mosquitto_sub leaves
                                // the subscriptions of a kept session (-c) in place for the next run.
                                if properties[.disconnect].isEmpty {
                                    client.beginDisconnect()
                                } else {
                                    await client.disconnect(properties: properties[.disconnect])
                                }
                            }
                        } else if !properties[.disconnect].isEmpty {
                            await client.disconnect(properties: properties[.disconnect])
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            throw ClientExit.failure(error, quiet: connection.quiet)
        }
        if timedOut.withLockedValue({ $0 }) {
            if !connection.quiet { ClientExit.printError("Timed out") }
            throw ExitCode(Self.timedOutStatus)
        }
    }

    /// Prints the messages of the subscription as the options ask.
    struct Printer {
        let formatter: ClientMessageFormatter
        let hidden: [TopicFilter]
        let noStale: Bool
        let retainedOnly: Bool
        let count: Int?
        let exitAfterSubscribing: Bool
        let quiet: Bool
        /// The share of messages printed (--random-filter), from 0.001 to 1.
        let printedShare: Double

        /// Prints what `pending` brings until the options say to stop, then runs `end` while the subscription is
        /// still open.
        func print(
            _ pending: MQTTClient.PendingSubscription, removingRetained removeRetained: ((String) async throws -> Void)?,
            end: () async -> Void
        ) async throws {
            let subscription = try await pending.acknowledged()
            // The iterator outlives the printing: the stream ends, and unsubscribes, when it goes.
            var messages = subscription.makeAsyncIterator()
            try await print(subscription, from: &messages, removingRetained: removeRetained)
            await end()
            withExtendedLifetime(messages) {}
        }

        private func print(
            _ subscription: MQTTSubscription, from messages: inout MQTTSubscription.AsyncIterator,
            removingRetained removeRetained: ((String) async throws -> Void)?
        ) async throws {
            for (filter, code) in zip(subscription.filters, subscription.result.reasonCodes) where code.isFailure && !quiet {
                ClientExit.printError("Warning: the broker refused the subscription to '\(filter)' (\(code)).")
            }
            if exitAfterSubscribing { return }
            var printed = 0
            while let message = try await messages.next() {
                if hidden.contains(where: { $0.matches(message.topic) }) { continue }
                if let removeRetained, message.retain, message.payload.readableBytes > 0 { try await removeRetained(message.topic) }
                if retainedOnly && !message.retain { return }
                if noStale && message.retain { continue }
                if printedShare < 1 && Double.random(in: 0..<1) >= printedShare { continue }
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                if let bytes = formatter.render(message, at: now) { ClientStandardStreams.write(bytes) }
                printed += 1
                if let count, printed >= count { return }
            }
        }
    }
}
