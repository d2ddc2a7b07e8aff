import MQTT
import NIOCore

extension Array where Element == UInt8 {
    /// Parses lowercase or uppercase hex digits, two per byte, ignoring whitespace.
    init(hex: String) {
        let digits = hex.unicodeScalars.filter { !$0.properties.isWhitespace }.map { Character($0).hexDigitValue! }
        precondition(digits.count % 2 == 0, "odd number of hex digits")
        self = stride(from: 0, to: digits.count, by: 2).map { UInt8(digits[$0] << 4 | digits[$0 + 1]) }
    }

    var hex: String {
        let digits = Array<Character>("0123456789abcdef")
        return String(flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}

extension ByteBuffer {
    var hex: String { [UInt8](readableBytesView).hex }
}

/// Builders for hand-written packets, so malformed cases read as the bytes they are.
enum Wire {
    /// A whole packet: `first` byte, the remaining length of `body`, then `body`.
    static func packet(_ first: UInt8, _ body: [UInt8]...) -> [UInt8] {
        let content = body.flatMap { $0 }
        return [first] + variableByteInteger(content.count) + content
    }

    static func variableByteInteger(_ value: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeVariableByteInteger(value)
        return [UInt8](buffer.readableBytesView)
    }

    static func uint16(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A two-byte-length-prefixed string.
    static func string(_ value: String) -> [UInt8] {
        binary(Array(value.utf8))
    }

    /// Two-byte-length-prefixed bytes, also used for strings that are not valid UTF-8.
    static func binary(_ bytes: [UInt8]) -> [UInt8] {
        uint16(UInt16(bytes.count)) + bytes
    }

    /// A property list: its variable byte integer length, then `content`.
    static func properties(_ content: [UInt8]...) -> [UInt8] {
        let bytes = content.flatMap { $0 }
        return variableByteInteger(bytes.count) + bytes
    }

    /// The variable header of a CONNECT up to and including keep alive.
    static func connectHeader(name: String = "MQTT", level: UInt8, flags: UInt8, keepAlive: UInt16 = 60) -> [UInt8] {
        string(name) + [level, flags] + uint16(keepAlive)
    }
}
