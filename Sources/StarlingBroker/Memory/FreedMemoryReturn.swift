import Atomics
import NIOCore
import NIOPosix
#if os(Linux) && canImport(Glibc)
import Glibc
#endif

/// When the broker gives the memory freed after a wave of connections back to the system (see
/// `BrokerConfiguration.Limits.freedMemoryReturn`). Only glibc's allocator is asked (on Linux); elsewhere nothing
/// is given back, and `BrokerStatistics.freedMemoryReturns` stays at zero.
public struct FreedMemoryReturn: Sendable, Hashable {
    /// How often the broker looks at the connections it accepted; a return happens at one of these ticks, so
    /// this is also how long a wave must have been over. Default 10 seconds.
    public var interval: TimeAmount
    /// Network connections that make a wave, counting every one a listener accepted, whether or not it got as far
    /// as CONNECT: memory is given back at a tick once at least this many were accepted since the last return and
    /// fewer than this many within the last `interval`. Default 1,000; values below 1 count as 1.
    public var afterConnections: Int

    /// A policy that gives memory back once `afterConnections` connections came and went, checked every `interval`.
    public init(interval: TimeAmount = .seconds(10), afterConnections: Int = 1_000) {
        self.interval = interval
        self.afterConnections = afterConnections
    }
}

/// Gives memory the allocator holds free back to the system after a wave of connections. glibc keeps what a
/// burst of connections freed in its arenas: after 27,000 stalled TLS handshakes a broker that holds nothing of
/// them still had 216 MB resident, and 35 MB once the allocator was asked to let go of its free pages.
final class FreedMemoryReturner: Sendable {
    private let task: RepeatedTask
    /// How often free memory has been given back.
    let returns = ManagedAtomic<UInt64>(0)

    init(core: BrokerCore, policy: FreedMemoryReturn) {
        let lastTick = ManagedAtomic<UInt64>(0)
        let lastReturn = ManagedAtomic<UInt64>(0)
        let returns = self.returns
        let threshold = UInt64(max(1, policy.afterConnections))
        task = core.loops[0].eventLoop.scheduleRepeatedTask(initialDelay: policy.interval, delay: policy.interval) { _ in
            let accepted = core.acceptedConnections.load(ordering: .relaxed)
            let inLastInterval = accepted &- lastTick.exchange(accepted, ordering: .relaxed)
            guard accepted &- lastReturn.load(ordering: .relaxed) >= threshold, inLastInterval < threshold else { return }
            lastReturn.store(accepted, ordering: .relaxed)
            // Walking every arena takes its lock for a moment: not on an event loop.
            NIOThreadPool.singleton.submit { _ in
                if Self.returnFreeMemory() { returns.wrappingIncrement(ordering: .relaxed) }
            }
        }
    }

    func cancel() {
        task.cancel()
    }

    /// Whether this platform's allocator can be asked to give back what it holds free: glibc's can.
    static var isAvailable: Bool {
        #if os(Linux) && canImport(Glibc)
        mallocTrim != nil
        #else
        false
        #endif
    }

    /// Whether the allocator was asked to give back what it holds free.
    private static func returnFreeMemory() -> Bool {
        #if os(Linux) && canImport(Glibc)
        guard let mallocTrim else { return false }
        _ = mallocTrim(0)
        return true
        #else
        return false
        #endif
    }

    #if os(Linux) && canImport(Glibc)
    /// glibc's `malloc_trim`, looked up at run time: its header is not part of the Glibc module, and a C library
    /// without it simply keeps what it holds.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif
}
