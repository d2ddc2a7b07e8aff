import Logging
import NIOCore

#if os(Linux)
import CStarlingLinux
import Glibc
import NIOPosix
import Synchronization

/// Watches the sockets of hibernating connections, on a thread of its own: answers their pings, reads their
/// acknowledgements for them, ends them when the peer hangs up, and wakes a connection on its loop for any other
/// input.
///
/// A hibernating connection has no SwiftNIO channel: only its socket, held here, and its `ConnectionHandler`,
/// which keeps the session's state. Each socket is armed for one event; the connection takes its socket back
/// (`wake`) before a new channel adopts it.
final class HibernationWatcher: Sendable {
    /// Whether idle connections can hibernate here: epoll and eventfd are Linux's.
    static let isAvailable = true

    private struct Sleeper {
        let descriptor: CInt
        let connection: ConnectionHandler
        /// When a PINGREQ was last answered here: the connection's keep alive reads it when it runs out.
        var lastPingAt: NIODeadline?
    }

    private struct Sleepers {
        var byToken: [UInt64: Sleeper] = [:]
        var nextToken: UInt64 = 1
        var stopped = false
        var answeredPings: UInt64 = 0
    }

    private let epoll: CInt
    /// Written to end the watching thread; registered under token 0.
    private let stopSignal: CInt
    private let sleepers = Mutex(Sleepers())
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let logger: Logger

    init(logger: Logger) throws {
        self.logger = logger
        let epoll = epoll_create1(CInt(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw IOError(errnoCode: errno, reason: "epoll_create1") }
        let stopSignal = eventfd(0, CInt(EFD_CLOEXEC) | CInt(EFD_NONBLOCK))
        guard stopSignal >= 0 else {
            let code = errno
            close(epoll)
            throw IOError(errnoCode: code, reason: "eventfd")
        }
        self.epoll = epoll
        self.stopSignal = stopSignal
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = 0
        _ = epoll_ctl(epoll, EPOLL_CTL_ADD, stopSignal, &event)
        thread.start()
        thread.submit { [self] _ in watch() }
    }

    /// Holds `descriptor` for `connection` until it is woken; nil if the socket cannot be watched.
    func sleep(_ descriptor: CInt, connection: ConnectionHandler) -> UInt64? {
        sleepers.withLock { sleepers -> UInt64? in
            guard !sleepers.stopped else { return nil }
            let token = sleepers.nextToken
            sleepers.nextToken += 1
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
            event.data.u64 = token
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event) == 0 else { return nil }
            sleepers.byToken[token] = Sleeper(descriptor: descriptor, connection: connection)
            return token
        }
    }

    /// Gives the socket held under `token` back to its connection; nil if it is no longer here.
    func wake(_ token: UInt64) -> CInt? {
        sleepers.withLock { sleepers -> CInt? in
            guard let sleeper = sleepers.byToken.removeValue(forKey: token) else { return nil }
            _ = epoll_ctl(epoll, EPOLL_CTL_DEL, sleeper.descriptor, nil)
            return sleeper.descriptor
        }
    }

    /// Writes what `buffer` holds to the socket sleeping under `token`, as far as the socket takes it without
    /// blocking; returns how many bytes it took. Under the lock, so that it cannot come between the two bytes
    /// of a PINGRESP the watcher writes.
    func send(_ buffer: ByteBuffer, token: UInt64) -> Int {
        sleepers.withLock { sleepers in
            guard let descriptor = sleepers.byToken[token]?.descriptor else { return 0 }
            let sent = buffer.withUnsafeReadableBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            return max(sent, 0)
        }
    }

    /// When the watcher last answered a PINGREQ of the connection sleeping under `token`, if it did.
    func lastPing(_ token: UInt64) -> NIODeadline? {
        sleepers.withLock { $0.byToken[token]?.lastPingAt }
    }

    /// PINGREQ packets answered here since the broker started: two bytes received and two sent for each.
    var answeredPings: UInt64 { sleepers.withLock { $0.answeredPings } }

    private func watch() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let ready = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, CInt($0.count), -1) }
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("hibernating connections are no longer watched", metadata: ["errno": "\(errno)"])
                return
            }
            for event in events[0..<Int(ready)] {
                let token = event.data.u64
                if token == 0 { return }
                stirred(token)
            }
        }
    }

    /// What the watcher made of a stirred socket.
    private enum Stir {
        /// Keep-alive pings, answered, and PUBACK, PUBREC, PUBCOMP and DISCONNECT packets, read for the
        /// connection to handle where it sleeps.
        case answered(pings: Int, acknowledgements: ByteBuffer?, ConnectionHandler)
        /// Anything else: the connection wakes to read it.
        case wake(ConnectionHandler)
        /// Nothing more will come: the peer hung up with nothing unread, or the pings could not be answered.
        /// The connection ends without waking.
        case lost(ConnectionHandler, failure: String?)
    }

    /// What a hibernating connection is sent most — keep-alive pings, and the acknowledgements of messages written
    /// straight to its socket — is taken without waking it: pings are answered here (the socket is idle, so two
    /// bytes in come with room for two bytes out) and acknowledgements go to the connection, to be handled on
    /// its loop. A DISCONNECT goes to the connection the same way, and a hang-up with nothing unread ends the
    /// connection without waking it, as a crowd of clients leaving at once would otherwise wake every one of
    /// them. Anything else — or anything unexpected — wakes
    /// it. The lock is held throughout, so the connection cannot take its socket back while an answer is being
    /// written.
    private func stirred(_ token: UInt64) {
        let stir = sleepers.withLock { sleepers -> Stir? in
            guard let sleeper = sleepers.byToken[token] else { return nil }
            let descriptor = sleeper.descriptor
            let window = 64
            let stir = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: window) { buffer -> Stir in
                let peeked = recv(descriptor, buffer.baseAddress, window, CInt(MSG_PEEK | MSG_DONTWAIT))
                if peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    return .lost(sleeper.connection, failure: nil)
                }
                guard peeked > 0, let (pings, acknowledgementBytes) = Self.pingsAndAcknowledgements(buffer, count: peeked),
                    recv(descriptor, buffer.baseAddress, peeked, CInt(MSG_DONTWAIT)) == peeked
                else { return .wake(sleeper.connection) }
                var acknowledgements: ByteBuffer?
                if acknowledgementBytes > 0 {
                    var bytes = Self.allocator.buffer(capacity: acknowledgementBytes)
                    Self.forEachPacket(buffer, count: peeked) { range in
                        if Self.isReadAsleep(buffer[range.lowerBound]) { bytes.writeBytes(UnsafeBufferPointer(rebasing: buffer[range])) }
                    }
                    acknowledgements = bytes
                }
                var event = epoll_event()
                event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
                event.data.u64 = token
                if pings > 0 {
                    // What was read is copied out by now: the buffer takes the answer.
                    for index in stride(from: 0, to: 2 * pings, by: 2) {
                        buffer[index] = 0xD0
                        buffer[index + 1] = 0x00
                    }
                    guard Glibc.send(descriptor, buffer.baseAddress, 2 * pings, CInt(MSG_NOSIGNAL | MSG_DONTWAIT)) == 2 * pings else {
                        return .lost(sleeper.connection, failure: "could not answer its PINGREQ")
                    }
                }
                guard epoll_ctl(epoll, EPOLL_CTL_MOD, descriptor, &event) == 0 else {
                    return .lost(sleeper.connection, failure: "could not watch its socket again")
                }
                return .answered(pings: pings, acknowledgements: acknowledgements, sleeper.connection)
            }
            if case .answered(let pings, _, _) = stir, pings > 0 {
                sleepers.byToken[token]?.lastPingAt = .now()
                sleepers.answeredPings &+= UInt64(pings)
            }
            return stir
        }
        guard let stir else { return }
        switch stir {
        case .answered(_, let acknowledgements?, let connection):
            connection.loop.eventLoop.execute { connection.receivedWhileAsleep(acknowledgements, token: token) }
        case .wake(let connection):
            connection.loop.eventLoop.execute { connection.socketStirred(token: token) }
        case .lost(let connection, let failure):
            connection.loop.eventLoop.execute { connection.lostWhileAsleep(token: token, failure: failure) }
        case .answered:
            break
        }
    }

    private static let allocator = ByteBufferAllocator()

    /// How many PINGREQs, and how many bytes of acknowledgements, the first `count` bytes of `buffer` hold, if they
    /// are whole packets of those kinds and nothing else. Acknowledgements are only framed here (a fixed header, a
    /// one-byte length); the connection's decoder checks the rest, as it would on a channel.
    private static func pingsAndAcknowledgements(_ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int) -> (Int, Int)? {
        var pings = 0
        var acknowledgementBytes = 0
        var whole = true
        let end = forEachPacket(buffer, count: count) { range in
            switch buffer[range.lowerBound] {
            case 0xC0 where range.count == 2: pings += 1
            case let header where isReadAsleep(header): acknowledgementBytes += range.count
            default: whole = false
            }
        }
        guard whole, end == count else { return nil }
        return (pings, acknowledgementBytes)
    }

    /// PUBACK, PUBREC and PUBCOMP, what a subscriber sends back for the QoS 1 and 2 messages written to it (the
    /// broker's answer to a PUBREC, PUBREL, goes straight to the socket like any other output), and DISCONNECT,
    /// which ends the connection where it sleeps: a crowd leaving at once wakes none of its connections.
    private static func isReadAsleep(_ header: UInt8) -> Bool {
        header == 0x40 || header == 0x50 || header == 0x70 || header == 0xE0
    }

    /// Calls `body` with the range of each whole packet with a one-byte remaining length at the start of the
    /// first `count` bytes of `buffer`; returns where the first packet it could not frame begins.
    @discardableResult
    private static func forEachPacket(_ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int, _ body: (Range<Int>) -> Void) -> Int {
        var start = 0
        while start + 2 <= count, buffer[start + 1] < 0x80, start + 2 + Int(buffer[start + 1]) <= count {
            let end = start + 2 + Int(buffer[start + 1])
            body(start..<end)
            start = end
        }
        return start
    }

    /// Ends the watching thread and closes the sockets still held: called once the broker has closed its
    /// connections, when none should be left.
    func stop() async {
        let left = sleepers.withLock { sleepers -> [CInt] in
            sleepers.stopped = true
            defer { sleepers.byToken.removeAll() }
            return sleepers.byToken.values.map(\.descriptor)
        }
        for descriptor in left { close(descriptor) }
        var one: UInt64 = 1
        _ = write(stopSignal, &one, MemoryLayout<UInt64>.size)
        try? await thread.shutdownGracefully()
        close(stopSignal)
        close(epoll)
    }
}
#else

/// Hibernation needs epoll and eventfd, which only Linux has: elsewhere there is no watcher, and idle connections
/// stay awake, as they do with `Limits.hibernateAfter` nil. The same interface as on Linux, so that connections
/// need not know the difference: no socket is ever taken.
final class HibernationWatcher: Sendable {
    static let isAvailable = false

    /// Why no watcher can be made.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String { "hibernating connections need epoll, which only Linux has" }
    }

    init(logger: Logger) throws {
        throw Unavailable()
    }

    func sleep(_ descriptor: CInt, connection: ConnectionHandler) -> UInt64? { nil }

    func wake(_ token: UInt64) -> CInt? { nil }

    func send(_ buffer: ByteBuffer, token: UInt64) -> Int { 0 }

    func lastPing(_ token: UInt64) -> NIODeadline? { nil }

    var answeredPings: UInt64 { 0 }

    func stop() async {}
}
#endif
