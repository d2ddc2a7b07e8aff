import NIOCore

/// The data representations of MQTT (section 1.5 of both specifications) over `ByteBuffer`.
extension ByteBuffer {
    /// The largest value a variable byte integer holds (four bytes).
    public static let maximumVariableByteInteger = 268_435_455

    /// The number of bytes `value` takes as a variable byte integer.
    @inlinable
    public static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }

    /// Writes `value` (0...268,435,455) as a variable byte integer of one to four bytes (1.5.5) and returns how
    /// many it took.
    @inlinable
    @discardableResult
    public mutating func writeVariableByteInteger(_ value: Int) -> Int {
        precondition(value >= 0 && value <= Self.maximumVariableByteInteger, "variable byte integer out of range")
        var remaining = value
        var written = 0
        repeat {
            var byte = UInt8(remaining & 0x7F)
            remaining >>= 7
            if remaining > 0 { byte |= 0x80 }
            writeInteger(byte)
            written += 1
        } while remaining > 0
        return written
    }

    /// The outcome of reading a variable byte integer from a stream that may still be incomplete.
    enum VariableByteIntegerRead {
        case value(Int, length: Int)
        case needMoreData
    }

    /// The fixed header at the front of the readable bytes, read in one access to the storage.
    enum FixedHeaderRead {
        case header(first: UInt8, remainingLength: Int, size: Int)
        case needMoreData
    }

    func peekFixedHeader() throws -> FixedHeaderRead {
        try withUnsafeReadableBytes { bytes in
            guard let first = bytes.first else { return .needMoreData }
            switch try Self.parseVariableByteInteger(UnsafeRawBufferPointer(rebasing: bytes[1...])) {
            case .value(let value, let length): return .header(first: first, remainingLength: value, size: 1 + length)
            case .needMoreData: return .needMoreData
            }
        }
    }

    /// Peeks a variable byte integer at `index` without moving the reader index.
    func peekVariableByteInteger(at index: Int) throws -> VariableByteIntegerRead {
        let start = index - readerIndex
        guard start >= 0 else { return .needMoreData }
        // One access to the storage for all four bytes: each `getInteger` pays for its own.
        return try withUnsafeReadableBytes { bytes in
            guard start <= bytes.count else { return .needMoreData }
            return try Self.parseVariableByteInteger(UnsafeRawBufferPointer(rebasing: bytes[start...]))
        }
    }

    private static func parseVariableByteInteger(_ bytes: UnsafeRawBufferPointer) throws -> VariableByteIntegerRead {
        var value = 0
        var multiplier = 1
        for offset in 0..<4 {
            guard offset < bytes.count else { return .needMoreData }
            let byte = bytes[offset]
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 {
                // MQTT-1.5.5-1: the shortest encoding only; a trailing zero byte means it was longer than needed.
                if offset > 0 && byte == 0 { throw MQTTError(.malformedVariableByteInteger) }
                return .value(value, length: offset + 1)
            }
            multiplier *= 128
        }
        throw MQTTError(.malformedVariableByteInteger)
    }

    mutating func readVariableByteInteger() throws -> Int {
        switch try peekVariableByteInteger(at: readerIndex) {
        case .value(let value, let length):
            moveReaderIndex(forwardBy: length)
            return value
        case .needMoreData:
            throw MQTTError.truncated
        }
    }

    mutating func readMQTTByte() throws -> UInt8 {
        guard let value = readInteger(as: UInt8.self) else { throw MQTTError.truncated }
        return value
    }

    mutating func readMQTTUInt16() throws -> UInt16 {
        guard let value = readInteger(as: UInt16.self) else { throw MQTTError.truncated }
        return value
    }

    mutating func readMQTTUInt32() throws -> UInt32 {
        guard let value = readInteger(as: UInt32.self) else { throw MQTTError.truncated }
        return value
    }

    /// Reads a two-byte-length-prefixed UTF-8 string, validated under `policy`.
    mutating func readMQTTString(policy: UTF8Policy) throws -> String {
        try readMQTTString { try UTF8Validator.validate($0, policy: policy) }
    }

    /// Reads a topic name: a string that may not hold the wildcard characters (MQTT-3.3.2-2, MQTT-4.7.3-1).
    mutating func readMQTTTopicName(policy: UTF8Policy) throws -> String {
        try readMQTTString { bytes in
            try UTF8Validator.validate(bytes, policy: policy)
            // Over the raw bytes: scanning the `String`'s UTF-8 view afterwards costs several times as much.
            if bytes.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
                throw MQTTError(.invalidTopicName)
            }
        }
    }

    /// Reads a length-prefixed string in place, checking its bytes with `validate` before the `String` is made.
    @inline(__always)
    private mutating func readMQTTString(validate: (UnsafeRawBufferPointer) throws -> Void) throws -> String {
        // The length and the bytes in one access to the storage: each access costs a runtime exclusivity check.
        let (string, size) = try withUnsafeReadableBytes { readable in
            guard readable.count >= 2 else { throw MQTTError.truncated }
            let length = Int(readable[0]) << 8 | Int(readable[1])
            guard readable.count - 2 >= length else { throw MQTTError.truncated }
            let bytes = UnsafeRawBufferPointer(rebasing: readable[2..<(2 + length)])
            try validate(bytes)
            return (String(decoding: bytes, as: UTF8.self), 2 + length)
        }
        moveReaderIndex(forwardBy: size)
        return string
    }

    /// Reads two-byte-length-prefixed binary data as a slice sharing this buffer's storage.
    mutating func readMQTTBinary() throws -> ByteBuffer {
        let length = Int(try readMQTTUInt16())
        guard let slice = readSlice(length: length) else { throw MQTTError.truncated }
        return slice
    }

    /// Writes a two-byte-length-prefixed string; one longer than the prefix can describe is refused, as a
    /// truncated length would make the receiver read the rest of the string as the following fields.
    mutating func writeMQTTString(_ string: String) throws {
        let length = string.utf8.count
        guard length <= UInt16.max else { throw MQTTError(.fieldTooLong(length: length)) }
        writeInteger(UInt16(length))
        writeString(string)
    }

    mutating func writeMQTTBinary(_ data: ByteBuffer) throws {
        guard data.readableBytes <= UInt16.max else { throw MQTTError(.fieldTooLong(length: data.readableBytes)) }
        writeInteger(UInt16(data.readableBytes))
        writeImmutableBuffer(data)
    }

    /// The size of a length-prefixed string on the wire.
    static func mqttStringSize(_ string: String) -> Int {
        2 + string.utf8.count
    }
}
