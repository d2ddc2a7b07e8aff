/// Hands out packet identifiers that are not in use (MQTT-2.2.1-3: non-zero, and not reused while a flow that
/// uses one is unfinished).
struct PacketIdentifierPool {
    private var inUse: Set<UInt16> = []
    private var next: UInt16 = 1

    var count: Int { inUse.count }

    mutating func allocate() -> UInt16? {
        guard inUse.count < Int(UInt16.max) else { return nil }
        while inUse.contains(next) { advance() }
        let identifier = next
        inUse.insert(identifier)
        advance()
        return identifier
    }

    /// Marks an identifier as taken, for flows restored with the identifier they had.
    mutating func reserve(_ identifier: UInt16) {
        inUse.insert(identifier)
    }

    mutating func release(_ identifier: UInt16) {
        inUse.remove(identifier)
    }

    private mutating func advance() {
        next = next == UInt16.max ? 1 : next + 1
    }
}
