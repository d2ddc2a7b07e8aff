/// The input read as the first byte of one packet followed by its body, with a remaining length that fits.
///
/// Most mutations of a packet break its remaining length, so the decoder refuses them at the fixed header and the
/// fuzzer seldom gets past it; framing the input itself lets every mutated body reach the packet decoders.
enum OnePacketFraming {
    static func frame(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let first = input.first else { return nil }
        var remaining = input.count - 1
        var framed: [UInt8] = [first]
        framed.reserveCapacity(input.count + 4)
        repeat {
            let byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            framed.append(remaining > 0 ? byte | 0x80 : byte)
        } while remaining > 0
        framed.append(contentsOf: input.dropFirst())
        return framed
    }
}
