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

    /// Peeks a variable byte integer at `index` without moving the reader index.
    func peekVariableByteInteger(at index: Int) throws -> VariableByteIntegerRead {
        var value = 0
        var multiplier = 1
        for offset in 0..<4 {
            guard let byte = getInteger(at: index + offset, as: UInt8.self) else { return .needMoreData }
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
        let length = Int(try readMQTTUInt16())
        guard let slice = readSlice(length: length) else { throw MQTTError.truncated }
        try slice.withUnsafeReadableBytes { try UTF8Validator.validate($0, policy: policy) }
        return String(buffer: slice)
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
