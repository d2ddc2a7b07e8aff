import Histogram
import MQTT
import NIOCore
import NIOPosix
import NIOSSL

public enum BenchRunner {
    /// Runs a scenario to its end: its count, its duration, or the timeout, whichever comes first.
    /// `progress` is called about once a second from a task of the run.
    public static func run(_ options: BenchOptions, progress: (@Sendable (BenchProgress) -> Void)? = nil) async throws -> BenchResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        do {
            let result = try await Run(options: options, group: group, progress: progress).execute()
            try await group.shutdownGracefully()
            return result
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }
}

/// One run: its connections, their loops' counters and the phases connect, publish, drain, collect.
private struct Run {
    let options: BenchOptions
    let group: MultiThreadedEventLoopGroup
    let progress: (@Sendable (BenchProgress) -> Void)?
    let stats: [BenchLoopStats]
    let runTag: String
    let sslContext: NIOSSLContext?
    let origin: NIODeadline
    /// The broker's address, resolved once rather than for each of possibly thousands of connections.
    let address: SocketAddress
    /// Every broker's address, `address` first (`BenchOptions.moreBrokers`).
    let addresses: [SocketAddress]

    init(options: BenchOptions, group: MultiThreadedEventLoopGroup, progress: (@Sendable (BenchProgress) -> Void)?) throws {
        self.options = options
        self.group = group
        self.progress = progress
        self.origin = .now()
        let origin = self.origin.uptimeNanoseconds
        self.stats = group.makeIterator().map { BenchLoopStats(eventLoop: $0, origin: origin) }
        // Client identifiers differ between runs, so a broker still closing the last run's sessions does not
        // take over this run's connections.
        self.runTag = String(origin % 1_000_000, radix: 36)
        self.sslContext = try options.tls.map { try NIOSSLContext(configuration: $0) }
        self.address = try SocketAddress.makeAddressResolvingHost(options.host, port: options.port)
        self.addresses = try [address] + options.moreBrokers.map { try SocketAddress.makeAddressResolvingHost($0.host, port: $0.port) }
    }

    struct Shape {
        var publisherTopics: [String] = []
        var subscriberFilters: [String] = []
        var idle = 0
        /// For each subscriber, the publishers it hears from; `shared` when the subscribers split one stream.
        var heard: (Int) -> [Int] = { _ in [] }
        var shared = false
        var knowsExpected = true
    }

    func shape() -> Shape {
        var shape = Shape()
        let p = max(1, options.publishers)
        let s = max(1, options.subscribers)
        func topics(_ n: Int) -> [String] { (0..<n).map { expand(options.publisherTopic, index: $0, run: runTag) } }
        func filters(_ n: Int) -> [String] { (0..<n).map { expand(options.subscriberFilter, index: $0, run: runTag) } }
        switch options.scenario {
        case .conn:
            shape.idle = max(0, options.connections)
        case .pub:
            shape.publisherTopics = topics(p)
        case .sub:
            shape.subscriberFilters = filters(s)
            shape.knowsExpected = false
        case .fanin:
            shape.publisherTopics = topics(p)
            shape.subscriberFilters = filters(1)
            shape.heard = { _ in Array(0..<p) }
        case .pairs:
            shape.publisherTopics = topics(p)
            shape.subscriberFilters = filters(p)
            shape.heard = { [$0] }
        case .fanout:
            shape.publisherTopics = topics(1)
            shape.subscriberFilters = filters(s)
            shape.heard = { _ in [0] }
        case .latency:
            shape.publisherTopics = topics(1)
            shape.subscriberFilters = filters(1)
            shape.heard = { _ in [0] }
        case .sharedsub:
            shape.publisherTopics = topics(p)
            shape.subscriberFilters = filters(s)
            shape.heard = { _ in Array(0..<p) }
            shape.shared = true
        }
        return shape
    }

    func execute() async throws -> BenchResult {
        #if os(Linux)
        if options.scenario == .conn, options.tls == nil, let raw = try rawConnections() { return try await execute(raw) }
        #endif
        let shape = shape()
        let brokerBefore = options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:))
        var index = 0
        var roles: [BenchConnection.Role] = []
        roles += shape.subscriberFilters.map { .subscriber(filter: $0) }
        let rate: Double? = options.scenario == .latency ? (options.rate ?? 1000) : options.rate
        let plan = BenchConnection.PublishPlan(
            count: options.messagesPerPublisher ?? (options.duration == nil ? 100_000 : nil),
            duration: options.duration,
            rate: rate.map { $0 / Double(max(1, shape.publisherTopics.count)) })
        roles += shape.publisherTopics.enumerated().map { .publisher(topic: $0.element, index: UInt32($0.offset), plan: plan) }
        roles += repeatElement(.idle, count: shape.idle)

        let handlers = roles.map { role -> BenchConnection in
            defer { index += 1 }
            let loopStats = stats[index % stats.count]
            return BenchConnection(
                role: role, qos: options.qos, version: options.version, payloadSize: options.payloadSize,
                inflightWindow: options.inflight, keepAlive: options.keepAlive, clientIdentifier: expand(options.clientIdentifier, index: index, run: runTag),
                userName: options.userName, password: options.password, stats: loopStats)
        }
        let connectStart = NIODeadline.now()
        let connectCPU = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier)
        let connectRate = options.scenario == .conn ? options.rate : nil
        let outcome = await connectAll(handlers, rate: connectRate)
        let connectEnd = NIODeadline.now()
        let connectSeconds = Double((connectEnd - connectStart).nanoseconds) / 1e9
        var connections = BenchResult.Connections(
            attempted: handlers.count, connected: outcome.channels.count, failed: outcome.failures, seconds: connectSeconds,
            brokerBytesBefore: brokerBefore, brokerBytesAfter: nil)
        defer { closeAll(outcome.channels) }
        if options.scenario != .conn, let firstError = outcome.firstError {
            throw BenchError.noConnection(attempts: handlers.count, firstError: "\(outcome.failures) failed, first: \(firstError)")
        }
        if outcome.channels.isEmpty, let firstError = outcome.firstError {
            throw BenchError.noConnection(attempts: handlers.count, firstError: firstError)
        }

        let subscribers = handlers.filter { if case .subscriber = $0.role { true } else { false } }
        let publishers = handlers.filter { if case .publisher = $0.role { true } else { false } }
        if !options.moreBrokers.isEmpty, !subscribers.isEmpty, !publishers.isEmpty {
            // The nodes of a cluster learn each other's subscriptions within a heartbeat (1 s by default): what
            // is published sooner may find no subscriber there yet.
            try await Task.sleep(for: options.routesSettle)
        }
        let runDeadline = NIODeadline.now() + options.timeout
        var reporter = ProgressReporter(progress: progress, origin: .now())
        let publishStart = NIODeadline.now()
        let cpuStart = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier)

        if options.scenario == .conn {
            connections.cpu = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier).usage(since: connectCPU, at: connectEnd)
            // Let the broker settle after the last CONNACK before reading its memory.
            try await Task.sleep(nanoseconds: 1_000_000_000)
            connections.brokerBytesAfter = options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:))
            if let hold = options.duration { try await wait(until: min(runDeadline, publishStart + hold), reporter: &reporter, connected: outcome.channels.count) }
        } else {
            for publisher in publishers { publisher.stats.eventLoop.execute { publisher.startPublishing() } }
            if options.scenario == .sub {
                try await wait(until: min(runDeadline, publishStart + (options.duration ?? .seconds(10))), reporter: &reporter, connected: outcome.channels.count)
            } else {
                while NIODeadline.now() < runDeadline {
                    let now = await poll(connected: outcome.channels.count)
                    if now.publishersDone >= publishers.count { break }
                    reporter.tick(now)
                    try await Task.sleep(nanoseconds: 20_000_000)
                }
                if !subscribers.isEmpty {
                    // Expected deliveries are known once the publishers are done; wait for them, or for the
                    // stream to dry up for the drain period.
                    let sentBy = try await collect(publishers) { $0.sent }
                    var expected = 0
                    for (s, _) in subscribers.enumerated() where !shape.shared || s == 0 {
                        expected += shape.heard(s).reduce(0) { $0 + sentBy[$1] }
                    }
                    var last = await poll(connected: outcome.channels.count)
                    var lastChange = NIODeadline.now()
                    while last.delivered < expected && NIODeadline.now() < runDeadline && NIODeadline.now() - lastChange < options.drain {
                        try await Task.sleep(nanoseconds: 20_000_000)
                        let now = await poll(connected: outcome.channels.count)
                        if now.delivered != last.delivered { lastChange = .now() }
                        last = now
                        reporter.tick(now)
                    }
                }
            }
            for handler in publishers { handler.stats.eventLoop.execute { handler.stop() } }
        }
        var measured = try await result(shape: shape, subscribers: subscribers, publishers: publishers, connections: connections, publishStart: publishStart)
        if options.scenario != .conn {
            measured.cpu = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier).usage(since: cpuStart)
        }
        return measured
    }

    #if os(Linux)
    /// `conn` over plain TCP without SwiftNIO (see `BenchRawConnections`); nil when the broker's address is not
    /// IPv4.
    private func rawConnections() throws -> BenchRawConnections? {
        let connects = try (0..<max(0, options.connections)).map { index in
            let packet = Packet.connect(ConnectPacket(
                protocolVersion: options.version, clientIdentifier: expand(options.clientIdentifier, index: index, run: runTag),
                cleanStart: true, keepAlive: options.keepAlive, userName: options.userName,
                password: options.password.map { ByteBuffer(string: $0) }))
            return Array(try packet.encoded(version: options.version).readableBytesView)
        }
        return BenchRawConnections(
            address: address, sourceAddresses: options.sourceAddresses, connects: connects, version: options.version,
            window: options.connectConcurrency, keepAlive: options.keepAlive)
    }

    private func execute(_ raw: BenchRawConnections) async throws -> BenchResult {
        let brokerBefore = options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:))
        let rate = options.rate
        let connectStart = NIODeadline.now()
        let connectCPU = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier)
        let outcome: BenchRawConnections.Outcome
        do {
            outcome = try await raw.run { $0.connectAll(rate: rate) }
        } catch {
            await raw.shutdown()
            throw error
        }
        let connectEnd = NIODeadline.now()
        var connections = BenchResult.Connections(
            attempted: options.connections, connected: outcome.connected, failed: outcome.failures,
            seconds: Double((connectEnd - connectStart).nanoseconds) / 1e9, brokerBytesBefore: brokerBefore, brokerBytesAfter: nil)
        connections.cpu = CPUSample(brokerProcessIdentifier: options.brokerProcessIdentifier).usage(since: connectCPU, at: connectEnd)
        do {
            if outcome.connected == 0, let firstError = outcome.firstError {
                throw BenchError.noConnection(attempts: options.connections, firstError: firstError)
            }
            let publishStart = NIODeadline.now()
            var reporter = ProgressReporter(progress: progress, origin: .now())
            // Let the broker settle after the last CONNACK before reading its memory; the connections are read
            // meanwhile, so that nothing the broker sends waits.
            let settled = publishStart + .seconds(1)
            _ = try await raw.run { $0.hold(until: settled) }
            connections.brokerBytesAfter = options.brokerProcessIdentifier.flatMap(ProcessMemory.residentBytes(of:))
            if let hold = options.duration {
                let end = min(publishStart + options.timeout, publishStart + hold)
                while NIODeadline.now() < end {
                    let step = min(end, NIODeadline.now() + .seconds(1))
                    _ = try await raw.run { $0.hold(until: step) }
                    reporter.tick(BenchProgress(
                        elapsed: Double((NIODeadline.now() - origin).nanoseconds) / 1e9, connected: outcome.connected, sent: 0, delivered: 0))
                }
            }
            _ = try await raw.run { $0.closeAll() }
            await raw.shutdown()
            return try await result(shape: shape(), subscribers: [], publishers: [], connections: connections, publishStart: publishStart)
        } catch {
            _ = try? await raw.run { $0.closeAll() }
            await raw.shutdown()
            throw error
        }
    }
    #endif

    private func result(shape: Shape, subscribers: [BenchConnection], publishers: [BenchConnection], connections: BenchResult.Connections, publishStart: NIODeadline) async throws -> BenchResult {
        let sentBy = try await collect(publishers) { $0.sent }
        let trackers = try await collect(subscribers) { $0.tracker }
        var delivered = 0
        var duplicates = 0
        var outOfOrder = 0
        var foreign = 0
        var lost = 0
        if shape.shared {
            var group = DeliveryTracker()
            for tracker in trackers { group.merge(tracker) }
            (delivered, duplicates, outOfOrder, foreign) = (group.delivered, group.duplicates, group.outOfOrder, group.foreign)
            lost = sentBy.enumerated().reduce(0) { $0 + group.lost(publisher: $1.offset, sent: $1.element) }
        } else {
            for (s, tracker) in trackers.enumerated() {
                delivered += tracker.delivered
                duplicates += tracker.duplicates
                outOfOrder += tracker.outOfOrder
                foreign += tracker.foreign
                lost += shape.heard(s).reduce(0) { $0 + tracker.lost(publisher: $1, sent: sentBy[$1]) }
            }
        }
        let loops = try await withThrowingTaskGroup(of: (Int, Int, Histogram<UInt64>, BenchTimeline, UInt64).self) { tasks in
            for loopStats in stats {
                tasks.addTask {
                    try await loopStats.eventLoop.submit { (loopStats.sent, loopStats.acknowledged, loopStats.latency, loopStats.timeline,
                        subscribers.isEmpty ? (options.qos == .atMostOnce ? loopStats.lastSentAt : loopStats.lastAcknowledgedAt) : loopStats.lastDeliveredAt) }.get()
                }
            }
            var all: [(Int, Int, Histogram<UInt64>, BenchTimeline, UInt64)] = []
            for try await loop in tasks { all.append(loop) }
            return all
        }
        var latency = BenchLoopStats.makeHistogram()
        var timeline = BenchTimeline()
        var sent = 0
        var acknowledged = 0
        var lastEventAt: UInt64 = 0
        for loop in loops {
            sent += loop.0
            acknowledged += loop.1
            latency.add(loop.2)
            timeline.merge(loop.3)
            lastEventAt = max(lastEventAt, loop.4)
        }
        let start = publishStart.uptimeNanoseconds
        let seconds = lastEventAt > start ? Double(lastEventAt - start) / 1e9 : 0
        return BenchResult(
            scenario: options.scenario, qos: Int(options.qos.rawValue), payloadSize: max(options.payloadSize, BenchPayload.headerSize),
            publishers: publishers.count, subscribers: subscribers.count, connections: connections,
            sent: sent, acknowledged: acknowledged, expected: shape.knowsExpected ? delivered + lost : nil,
            delivered: delivered, duplicates: duplicates, outOfOrder: outOfOrder, foreign: foreign, seconds: seconds,
            latency: BenchResult.Latency(latency), timeline: timeline)
    }

    private func collect<T: Sendable>(_ handlers: [BenchConnection], _ read: @escaping @Sendable (BenchConnection) -> T) async throws -> [T] {
        var values: [T] = []
        values.reserveCapacity(handlers.count)
        for handler in handlers {
            values.append(try await handler.stats.eventLoop.submit { read(handler) }.get())
        }
        return values
    }

    private func poll(connected: Int) async -> BenchProgress {
        var sent = 0
        var delivered = 0
        var done = 0
        for loopStats in stats {
            if let counts = try? await loopStats.eventLoop.submit({ (loopStats.sent, loopStats.delivered, loopStats.publishersDone) }).get() {
                sent += counts.0
                delivered += counts.1
                done += counts.2
            }
        }
        var progress = BenchProgress(elapsed: Double((NIODeadline.now() - origin).nanoseconds) / 1e9, connected: connected, sent: sent, delivered: delivered)
        progress.publishersDone = done
        return progress
    }

    private func wait(until deadline: NIODeadline, reporter: inout ProgressReporter, connected: Int) async throws {
        while NIODeadline.now() < deadline {
            try await Task.sleep(nanoseconds: UInt64(max(0, min(100_000_000, (deadline - NIODeadline.now()).nanoseconds))))
            reporter.tick(await poll(connected: connected))
        }
    }

    /// Connects every handler, at most `connectConcurrency` at a time and at `rate` per second if given, each
    /// ready once its CONNACK (and SUBACK) arrived.
    struct ConnectOutcome {
        var channels: [any Channel] = []
        var failures = 0
        var firstError: String?
    }

    private func connectAll(_ handlers: [BenchConnection], rate: Double?) async -> ConnectOutcome {
        if rate == nil {
            let run = self
            let window = BenchConnectWindow<any Channel>(count: handlers.count, window: max(1, options.connectConcurrency), eventLoop: stats[0].eventLoop) { index in
                run.connectFuture(handlers[index], index: index)
            }
            guard let done = try? await window.run().get() else { return ConnectOutcome() }
            return ConnectOutcome(channels: done.connections, failures: done.failures, firstError: done.firstError)
        }
        let start = NIODeadline.now()
        let window = max(1, options.connectConcurrency)
        return await withTaskGroup(of: Result<any Channel, any Error>.self) { tasks in
            var outcome = ConnectOutcome()
            outcome.channels.reserveCapacity(handlers.count)
            func absorb(_ result: Result<any Channel, any Error>) {
                switch result {
                case .success(let channel): outcome.channels.append(channel)
                case .failure(let error):
                    outcome.failures += 1
                    if outcome.firstError == nil { outcome.firstError = "\(error)" }
                }
            }
            for (index, handler) in handlers.enumerated() {
                if index >= window, let result = await tasks.next() { absorb(result) }
                if let rate, rate > 0 {
                    let due = start + .nanoseconds(Int64(Double(index) / rate * 1e9))
                    let wait = (due - NIODeadline.now()).nanoseconds
                    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait)) }
                }
                tasks.addTask {
                    do {
                        return .success(try await connect(handler, index: index))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            for await result in tasks { absorb(result) }
            return outcome
        }
    }

    private func connect(_ handler: BenchConnection, index: Int) async throws -> any Channel {
        try await connectFuture(handler, index: index).get()
    }

    /// Connects one handler on its loop; the future succeeds with the channel once CONNACK (and SUBACK) came.
    /// Futures rather than a task per connection: set-up stays on the loop, with no thread hops.
    func connectFuture(_ handler: BenchConnection, index: Int) -> EventLoopFuture<any Channel> {
        let eventLoop = handler.stats.eventLoop
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            // Larger reads count more messages per system call when a subscriber is flooded (unpaced QoS 0).
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: max(2048, options.readBuffer)))
        if options.sourceAddresses > 0 {
            do {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: "127.0.0.\(1 + index % min(254, options.sourceAddresses))", port: 0))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            #if os(Linux)
            // IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect, for the whole 4-tuple, rather than at bind
            // by a search of every port in use, which slows each connection as thousands are open.
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: 24)), value: 1)
            #endif
        }
        let sslContext = sslContext
        let broker: Int
        switch handler.role {
        case .publisher(_, let publisher, _): broker = Int(publisher) % addresses.count
        case .subscriber, .idle: broker = addresses.count - 1 - index % addresses.count
        }
        let host = broker == 0 ? options.host : options.moreBrokers[broker - 1].host
        return bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let sslContext {
                    let serverName = host.first.map { $0.isNumber || $0 == "[" } == true ? nil : host
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                }
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        .connect(to: addresses[broker])
        .flatMap { channel in
            // A broker that accepts the socket but never answers must not hold the run.
            let timeout = eventLoop.scheduleTask(in: .seconds(10)) { handler.connected.fail(BenchError.handshakeTimedOut) }
            return handler.connected.futureResult.map { _ -> any Channel in
                timeout.cancel()
                return channel
            }.flatMapErrorThrowing { error in
                timeout.cancel()
                channel.close(promise: nil)
                throw error
            }
        }
    }

    private func closeAll(_ channels: [any Channel]) {
        for channel in channels { channel.close(promise: nil) }
    }
}

/// The CPU time of the load generator and of the broker at one moment, so that a run can report which side
/// was busy between two of them.
struct CPUSample {
    let at: NIODeadline
    let generatorSeconds: Double
    let brokerSeconds: Double?

    init(brokerProcessIdentifier: Int?) {
        at = .now()
        generatorSeconds = ProcessCPU.ownSeconds()
        brokerSeconds = brokerProcessIdentifier.flatMap(ProcessCPU.seconds(of:))
    }

    /// The CPU each side used from `start` to this sample, in percent of one core over the time from `start` to
    /// `end` (this sample's time unless given: a sample read just after a phase measures that phase).
    func usage(since start: CPUSample, at end: NIODeadline? = nil) -> BenchResult.CPU {
        let wall = Double(((end ?? at) - start.at).nanoseconds) / 1e9
        guard wall > 0 else { return BenchResult.CPU(generatorPercent: 0, brokerPercent: nil) }
        var broker: Double?
        if let end = brokerSeconds, let begin = start.brokerSeconds { broker = (end - begin) / wall * 100 }
        return BenchResult.CPU(generatorPercent: (generatorSeconds - start.generatorSeconds) / wall * 100, brokerPercent: broker)
    }
}

/// Calls the progress callback at most once a second with the counts so far.
private struct ProgressReporter {
    let progress: (@Sendable (BenchProgress) -> Void)?
    var next: NIODeadline

    init(progress: (@Sendable (BenchProgress) -> Void)?, origin: NIODeadline) {
        self.progress = progress
        self.next = origin + .seconds(1)
    }

    mutating func tick(_ counts: BenchProgress) {
        guard let progress, NIODeadline.now() >= next else { return }
        next = next + .seconds(1)
        progress(counts)
    }
}
