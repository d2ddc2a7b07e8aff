import NIOCore

extension PacketDecoder {
    /// The protocol level byte of the CONNECT packet at the front of `buffer`, if it can be read, so that a
    /// receiver can answer a CONNECT it could not decode in the client's own version.
    public static func protocolLevel(ofConnect buffer: ByteBuffer) -> UInt8? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first >> 4 == PacketType.connect.rawValue,
            case .value(_, let lengthSize)? = try? buffer.peekVariableByteInteger(at: buffer.readerIndex + 1)
        else { return nil }
        let nameIndex = buffer.readerIndex + 1 + lengthSize
        guard let nameLength = buffer.getInteger(at: nameIndex, as: UInt16.self) else { return nil }
        return buffer.getInteger(at: nameIndex + 2 + Int(nameLength), as: UInt8.self)
    }
}
