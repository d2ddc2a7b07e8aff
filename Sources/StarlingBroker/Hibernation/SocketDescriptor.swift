import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The descriptor of a SwiftNIO socket channel, which SwiftNIO keeps to itself: read through reflection so that
/// a hibernating connection can keep its socket while its channel goes (on Linux, reflection only until
/// `DescriptorLayout` has learned where the class keeps it). Nil for any other kind of channel, or if a SwiftNIO
/// release stores it differently; connections then stay awake, as they would with hibernation off.
enum SocketDescriptor {
    static func of(_ channel: any Channel) -> CInt? {
        #if os(Linux)
        let channelClass = ObjectIdentifier(type(of: channel))
        let known = DescriptorLayout.knowledge.withLock { $0[channelClass] }
        if case .learned(let layout) = known { return layout.descriptor(of: channel) }
        #endif
        guard let socket = storedProperty("socket", of: channel),
            let descriptor = storedProperty("descriptor", of: socket) as? CInt
        else { return nil }
        #if os(Linux)
        if type(of: socket) is AnyClass {
            let socketObject = socket as AnyObject
            DescriptorLayout.knowledge.withLock { knowledge in
                let candidates: DescriptorLayout.Candidates
                switch knowledge[channelClass] {
                case .learned, .unplaceable: return
                case .learning(let known): candidates = known
                case nil: candidates = DescriptorLayout.Candidates()
                }
                knowledge[channelClass] = candidates.observing(
                    channel: channel as AnyObject, socket: socketObject, descriptor: descriptor)
            }
        }
        #endif
        return descriptor
    }

    /// A second descriptor for the same socket, closed on exec; nil if none could be made.
    static func duplicate(_ descriptor: CInt) -> CInt? {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        return copy >= 0 ? copy : nil
    }

    /// Closes a socket that no channel owns: SwiftNIO closes only the descriptors of its channels.
    static func close(_ descriptor: CInt) {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #elseif canImport(Musl)
        _ = Musl.close(descriptor)
        #elseif canImport(Darwin)
        _ = Darwin.close(descriptor)
        #endif
    }

    private static func storedProperty(_ name: String, of subject: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: subject)
        while let current = mirror {
            if let child = current.children.first(where: { $0.label == name }) { return child.value }
            mirror = current.superclassMirror
        }
        return nil
    }
}
