#if os(Linux)
import CStarlingLinux
import Glibc
import MQTT
import NIOCore
import NIOPosix

/// `bench conn` over plain TCP without SwiftNIO: non-blocking sockets and one epoll set on a thread of its own,
/// as an independent C load generator does it. A connection here costs a socket, a CONNECT written once and a
/// CONNACK read, where a SwiftNIO channel costs its pipeline, futures and timers too, about three times the CPU;
/// one core of load generator then opened connections more slowly than a fast broker accepts them, and the
/// comparison measured the generator. TLS and WebSocket runs keep SwiftNIO's channels.
final class BenchRawConnections: @unchecked Sendable {
    // @unchecked: the mutable state (`connections`) is used by `connectAll`, `hold` and `closeAll` only, which run
    // one after another on the one thread of `thread`, each awaited by `run` before the next is started.

    struct Outcome {
        var connected = 0
        var failures = 0
        var firstError: String?
        /// CONNACKs that said Session Present.
        var sessionsPresent = 0
        /// PUBLISH packets received by connections waiting for one (`AfterConnAck.awaitPublish`).
        var publishesReceived = 0
        /// When the last connection was done (`now()`).
        var lastDoneAt: UInt64 = 0
    }

    /// What each connection does after its CONNACK before it counts as connected.
    enum AfterConnAck: Sendable {
        case nothing
        /// Sends this SUBSCRIBE and waits for its SUBACK.
        case subscribe([UInt8])
        /// Sends this QoS 1 PUBLISH and waits for its PUBACK.
        case publish([UInt8])
        /// Waits for a PUBLISH (a message its resumed session had queued), acknowledging it at QoS 1.
        case awaitPublish
    }

    fileprivate enum Phase {
        case connecting
        case awaitingConnAck
        case awaitingSubAck
        case awaitingPubAck
        case awaitingPublish
        case connected
        case closed
    }

    private struct Connection {
        var descriptor: CInt = -1
        var phase = Phase.closed
        var started: UInt64 = 0
        var received: [UInt8] = []
    }

    private let address: sockaddr_in
    private let sourceAddresses: Int
    private let connects: [[UInt8]]
    private let version: ProtocolVersion
    private let window: Int
    private let keepAlive: UInt16
    private let afterConnAck: AfterConnAck
    private var connections: [Connection]
    private let epoll: CInt
    static let handshakeTimeout: UInt64 = 10_000_000_000

    /// `connects` holds each connection's encoded CONNECT; `address` must be IPv4.
    init?(
        address: SocketAddress, sourceAddresses: Int, connects: [[UInt8]], version: ProtocolVersion, window: Int, keepAlive: UInt16,
        afterConnAck: AfterConnAck = .nothing
    ) {
        guard case .v4(let v4) = address else { return nil }
        let epoll = epoll_create1(CInt(EPOLL_CLOEXEC))
        guard epoll >= 0 else { return nil }
        self.address = v4.address
        self.sourceAddresses = sourceAddresses
        self.connects = connects
        self.version = version
        self.window = max(1, window)
        self.keepAlive = keepAlive
        self.afterConnAck = afterConnAck
        self.connections = Array(repeating: Connection(), count: connects.count)
        self.epoll = epoll
        thread.start()
    }

    deinit {
        close(epoll)
    }

    /// The thread every step runs on, off the cooperative pool, since it blocks in `epoll_wait`.
    private let thread = NIOThreadPool(numberOfThreads: 1)

    /// Runs `body` on the connections' own thread and waits for it.
    func run<T: Sendable>(_ body: @escaping @Sendable (BenchRawConnections) -> T) async throws -> T {
        try await thread.runIfActive { body(self) }
    }

    /// Ends the thread, once the connections are closed.
    func shutdown() async {
        try? await thread.shutdownGracefully()
    }

    /// Opens every connection, `window` handshakes at a time and at `rate` per second if given, each done at its
    /// CONNACK: connected when the broker accepted it, failed when it refused it, closed the socket or did not
    /// answer within 10 seconds.
    func connectAll(rate: Double?) -> Outcome {
        var outcome = Outcome()
        var next = 0
        var pending = 0
        let start = Self.now()
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        func fail(_ index: Int, _ reason: String) {
            if connections[index].phase.isPending { pending -= 1 }
            dispose(index)
            outcome.failures += 1
            if outcome.firstError == nil { outcome.firstError = reason }
        }
        while next < connections.count || pending > 0 {
            var waitMilliseconds: CInt = 100
            while pending < window && next < connections.count {
                if let rate, rate > 0 {
                    let due = start + UInt64(Double(next) / rate * 1e9)
                    let now = Self.now()
                    if due > now {
                        waitMilliseconds = CInt(min(100, max(1, (due - now) / 1_000_000)))
                        break
                    }
                }
                if let error = open(next) {
                    outcome.failures += 1
                    if outcome.firstError == nil { outcome.firstError = error }
                } else {
                    pending += 1
                }
                next += 1
            }
            if pending == 0 { if next >= connections.count { break } else { usleep(UInt32(waitMilliseconds) * 1000); continue } }
            let ready = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, CInt($0.count), waitMilliseconds) }
            if ready > 0 {
                for event in events.prefix(Int(ready)) {
                    let index = Int(event.data.u64)
                    switch connections[index].phase {
                    case .connecting:
                        if let error = finishConnect(index, events: event.events) { fail(index, error) }
                    case .awaitingConnAck, .awaitingSubAck, .awaitingPubAck, .awaitingPublish:
                        switch advance(index, &outcome) {
                        case .none: break
                        case .some(.success):
                            connections[index].phase = .connected
                            pending -= 1
                            outcome.connected += 1
                            outcome.lastDoneAt = Self.now()
                        case .some(.failure(let error)): fail(index, error.description)
                        }
                    case .connected, .closed:
                        break
                    }
                }
            }
            let now = Self.now()
            for index in 0..<next where connections[index].phase.isPending {
                if now - connections[index].started > Self.handshakeTimeout {
                    fail(index, connections[index].phase == .awaitingPublish ? "no PUBLISH within 10 seconds" : "no CONNACK within 10 seconds")
                }
            }
        }
        return outcome
    }

    /// Keeps the connections open until `deadline`, reading (and dropping) what the broker sends and pinging at
    /// half the keep alive; returns how many the broker closed meanwhile.
    func hold(until deadline: NIODeadline) -> Int {
        var closed = 0
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var nextPing = Self.now() + UInt64(keepAlive) * 500_000_000
        var scratch = [UInt8](repeating: 0, count: 4096)
        while NIODeadline.now() < deadline {
            let left = (deadline - NIODeadline.now()).nanoseconds / 1_000_000
            let ready = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, CInt($0.count), CInt(max(1, min(100, left)))) }
            if ready > 0 {
                for event in events.prefix(Int(ready)) {
                    let index = Int(event.data.u64)
                    guard connections[index].phase == .connected else { continue }
                    let count = scratch.withUnsafeMutableBytes { read(connections[index].descriptor, $0.baseAddress, $0.count) }
                    if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                        dispose(index)
                        closed += 1
                    }
                }
            }
            if keepAlive > 0 && Self.now() >= nextPing {
                let ping: [UInt8] = [0xC0, 0x00]
                for index in connections.indices where connections[index].phase == .connected {
                    _ = ping.withUnsafeBytes { send(connections[index].descriptor, $0.baseAddress, 2, CInt(MSG_NOSIGNAL)) }
                }
                nextPing = Self.now() + UInt64(keepAlive) * 500_000_000
            }
        }
        return closed
    }

    /// Closes every connection still open.
    func closeAll() {
        for index in connections.indices { dispose(index) }
    }

    // MARK: One connection

    private func open(_ index: Int) -> String? {
        let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return "socket: errno \(errno)" }
        var one: CInt = 1
        _ = setsockopt(descriptor, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        if sourceAddresses > 0 {
            // The port is chosen at connect, per destination, so each source address has the whole port range.
            _ = setsockopt(descriptor, CInt(IPPROTO_IP), Self.bindAddressNoPort, &one, socklen_t(MemoryLayout<CInt>.size))
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_addr.s_addr = (UInt32(127) << 24 | UInt32(1 + index % min(254, sourceAddresses))).bigEndian
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let code = errno
                close(descriptor)
                return "bind: errno \(code)"
            }
        }
        var target = address
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 || errno == EINPROGRESS else {
            let code = errno
            close(descriptor)
            return "connect: errno \(code)"
        }
        connections[index] = Connection(descriptor: descriptor, phase: .connecting, started: Self.now(), received: [])
        var event = epoll_event()
        event.events = EPOLLOUT.rawValue
        event.data.u64 = UInt64(index)
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else {
            dispose(index)
            return "epoll_ctl: errno \(errno)"
        }
        return nil
    }

    /// The socket is writable: the TCP handshake ended, well or not. Sends CONNECT and waits for the answer.
    private func finishConnect(_ index: Int, events: UInt32) -> String? {
        let descriptor = connections[index].descriptor
        var error: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        _ = getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
        guard error == 0 else { return "connect: \(String(cString: strerror(error)))" }
        let packet = connects[index]
        let written = packet.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
        guard written == packet.count else { return "CONNECT could not be written at once" }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        event.data.u64 = UInt64(index)
        guard epoll_ctl(epoll, EPOLL_CTL_MOD, descriptor, &event) == 0 else { return "epoll_ctl: errno \(errno)" }
        connections[index].phase = .awaitingConnAck
        return nil
    }

    private struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads what came and takes the connection's handshake as far as it goes: nil while it waits for more.
    private func advance(_ index: Int, _ outcome: inout Outcome) -> Result<Void, Refusal>? {
        var scratch = [UInt8](repeating: 0, count: 4096)
        let count = scratch.withUnsafeMutableBytes { read(connections[index].descriptor, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
        guard count > 0 else { return .failure(Refusal(description: "the broker closed the connection during the handshake")) }
        connections[index].received += scratch.prefix(count)
        while true {
            let packet: (type: UInt8, body: ArraySlice<UInt8>)
            switch Self.firstPacket(in: connections[index].received) {
            case .none: return nil
            case .some(.failure(let refusal)): return .failure(refusal)
            case .some(.success(let first)): packet = first
            }
            connections[index].received.removeFirst(packet.body.endIndex)
            let body = packet.body
            switch connections[index].phase {
            case .awaitingConnAck:
                guard packet.type >> 4 == 2 else { return .failure(Refusal(description: "the broker answered CONNECT with packet type \(packet.type >> 4)")) }
                guard body.count >= 2 else { return .failure(Refusal(description: "malformed CONNACK")) }
                let code = body[body.startIndex + 1]
                let reason = version == .v5 ? ReasonCode(rawValue: code) : BenchConnection.reasonCode(ofReturnCode: code)
                if reason.isFailure { return .failure(Refusal(description: "the broker refused the connection: \(reason)")) }
                if body[body.startIndex] & 1 == 1 { outcome.sessionsPresent += 1 }
                switch afterConnAck {
                case .nothing:
                    return .success(())
                case .subscribe(let packet), .publish(let packet):
                    let written = packet.withUnsafeBytes { send(connections[index].descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                    guard written == packet.count else { return .failure(Refusal(description: "a packet could not be written at once")) }
                    if case .subscribe = afterConnAck { connections[index].phase = .awaitingSubAck } else { connections[index].phase = .awaitingPubAck }
                case .awaitPublish:
                    connections[index].phase = .awaitingPublish
                }
            case .awaitingSubAck:
                guard packet.type >> 4 == 9 else { continue }
                guard let last = body.last, last < 0x80 else { return .failure(Refusal(description: "the broker refused the subscription")) }
                return .success(())
            case .awaitingPubAck:
                guard packet.type >> 4 == 4 else { continue }
                return .success(())
            case .awaitingPublish:
                guard packet.type >> 4 == 3 else { continue }
                outcome.publishesReceived += 1
                if (packet.type >> 1) & 3 == 1, body.count >= 2 {
                    let topicLength = Int(body[body.startIndex]) << 8 | Int(body[body.startIndex + 1])
                    let identifier = body.startIndex + 2 + topicLength
                    guard identifier + 2 <= body.endIndex else { return .failure(Refusal(description: "malformed PUBLISH")) }
                    let pubAck: [UInt8] = [0x40, 0x02, body[identifier], body[identifier + 1]]
                    _ = pubAck.withUnsafeBytes { send(connections[index].descriptor, $0.baseAddress, 4, CInt(MSG_NOSIGNAL)) }
                }
                return .success(())
            case .connecting, .connected, .closed:
                return nil
            }
        }
    }

    /// The first complete packet of `bytes`: its first byte and its body (indices into `bytes`); nil while it is
    /// incomplete.
    private static func firstPacket(in bytes: [UInt8]) -> Result<(type: UInt8, body: ArraySlice<UInt8>), Refusal>? {
        guard bytes.count >= 2 else { return nil }
        // The remaining length, a variable byte integer.
        var length = 0
        var shift = 0
        var position = 1
        while true {
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            length |= Int(byte & 0x7F) << shift
            position += 1
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 28 else { return .failure(Refusal(description: "malformed packet")) }
        }
        guard bytes.count >= position + length else { return nil }
        return .success((bytes[0], bytes[position..<(position + length)]))
    }

    private func dispose(_ index: Int) {
        guard connections[index].descriptor >= 0 else { return }
        // Closing the descriptor takes it out of the epoll set.
        close(connections[index].descriptor)
        connections[index].descriptor = -1
        connections[index].phase = .closed
    }

    /// Linux's IP_BIND_ADDRESS_NO_PORT, which Glibc's Swift module does not name.
    static let bindAddressNoPort: CInt = 24

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

extension BenchRawConnections.Phase {
    /// Whether the connection's handshake is under way.
    fileprivate var isPending: Bool {
        switch self {
        case .connecting, .awaitingConnAck, .awaitingSubAck, .awaitingPubAck, .awaitingPublish: true
        case .connected, .closed: false
        }
    }
}

#endif
