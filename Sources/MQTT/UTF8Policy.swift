/// How strictly UTF-8 strings are checked beyond what the specification requires.
///
/// Every policy refuses ill-formed UTF-8, surrogates and U+0000 (MQTT-1.5.4-1, MQTT-1.5.4-2). The
/// specification says control characters and non-characters SHOULD NOT appear and lets the receiver
/// close the connection when they do (1.5.4); `.strict` does so, as Mosquitto does.
public enum UTF8Policy: Sendable, Hashable {
    /// Also refuse U+0001–U+001F, U+007F–U+009F and the non-characters (U+FDD0–U+FDEF, U+xxFFFE/F).
    case strict
    /// Refuse only what the specification requires.
    case wellFormed
}

enum UTF8Validator {
    /// Whether any byte of `word` is below `limit` (at most 0x80); exact for a word of ASCII bytes.
    @inline(__always)
    private static func hasByte(in word: UInt64, below limit: UInt64) -> Bool {
        (word &- 0x0101_0101_0101_0101 &* limit) & ~word & 0x8080_8080_8080_8080 != 0
    }

    /// Validates `bytes` as an MQTT UTF-8 string under `policy`.
    static func validate(_ bytes: UnsafeRawBufferPointer, policy: UTF8Policy) throws {
        let count = bytes.count
        var index = 0
        let strict = policy == .strict
        while index < count {
            // Eight bytes at a time while they are plainly acceptable: ASCII, no U+0000 and, if strict, no control
            // character. Any other byte leaves this loop to be judged by the one below.
            while count - index >= 8 {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let refused = word & 0x8080_8080_8080_8080 != 0
                    || (strict
                        ? Self.hasByte(in: word, below: 0x20) || Self.hasByte(in: word ^ 0x7F7F_7F7F_7F7F_7F7F, below: 1)
                        : Self.hasByte(in: word, below: 1))
                if refused { break }
                index += 8
            }
            guard index < count else { return }
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == 0 { throw MQTTError(.invalidUTF8) }
                if strict && (byte < 0x20 || byte == 0x7F) { throw MQTTError(.disallowedCharacter) }
                index += 1
                continue
            }
            let scalar: UInt32
            let length: Int
            if byte & 0xE0 == 0xC0 {
                length = 2
                scalar = UInt32(byte & 0x1F)
            } else if byte & 0xF0 == 0xE0 {
                length = 3
                scalar = UInt32(byte & 0x0F)
            } else if byte & 0xF8 == 0xF0 {
                length = 4
                scalar = UInt32(byte & 0x07)
            } else {
                throw MQTTError(.invalidUTF8)
            }
            guard index + length <= count else { throw MQTTError(.invalidUTF8) }
            var value = scalar
            for offset in 1..<length {
                let continuation = bytes[index + offset]
                guard continuation & 0xC0 == 0x80 else { throw MQTTError(.invalidUTF8) }
                value = (value << 6) | UInt32(continuation & 0x3F)
            }
            // Overlong forms, surrogates and values past U+10FFFF are ill-formed.
            switch length {
            case 2 where value < 0x80: throw MQTTError(.invalidUTF8)
            case 3 where value < 0x800: throw MQTTError(.invalidUTF8)
            case 4 where value < 0x10000 || value > 0x10FFFF: throw MQTTError(.invalidUTF8)
            default: break
            }
            if value >= 0xD800 && value <= 0xDFFF { throw MQTTError(.invalidUTF8) }
            if strict {
                if value <= 0x9F { throw MQTTError(.disallowedCharacter) }
                if (value >= 0xFDD0 && value <= 0xFDEF) || value & 0xFFFE == 0xFFFE {
                    throw MQTTError(.disallowedCharacter)
                }
            }
            index += length
        }
    }
}
