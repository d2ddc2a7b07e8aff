import NIOCore

/// The descriptor of a SwiftNIO socket channel, which SwiftNIO keeps to itself: read through reflection so that
/// a hibernating connection can keep its socket while its channel goes. Nil for any other kind of channel, or if
/// a SwiftNIO release stores it differently; connections then stay awake, as they would with hibernation off.
enum SocketDescriptor {
    static func of(_ channel: any Channel) -> CInt? {
        guard let socket = storedProperty("socket", of: channel) else { return nil }
        return storedProperty("descriptor", of: socket) as? CInt
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
