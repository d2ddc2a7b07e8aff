import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A listener could not be bound: `run()` throws it, naming the listener's address and the system's reason,
/// such as another program holding the port.
public struct ListenerBindError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The listener, as a URL: `mqtt://127.0.0.1:1883`, `ws://0.0.0.0:8080/mqtt`.
    public var listener: String
    /// The system's error number, when the system refused (98, EADDRINUSE, for a port in use).
    public var errno: Int32?
    /// Why, in words: "Address already in use".
    public var reason: String

    /// A listener that could not be bound, and why.
    public init(listener: String, errno: Int32?, reason: String) {
        self.listener = listener
        self.errno = errno
        self.reason = reason
    }

    /// A listener that could not be bound, with the system's reason taken from `underlying`.
    public init(listener: String, underlying: any Error) {
        if let error = underlying as? IOError {
            self.init(listener: listener, errno: error.errnoCode, reason: String(cString: strerror(error.errnoCode)))
        } else {
            self.init(listener: listener, errno: nil, reason: "\(underlying)")
        }
    }

    /// "cannot listen on mqtt://127.0.0.1:1883: Address already in use".
    public var description: String { "cannot listen on \(listener): \(reason)" }
}
