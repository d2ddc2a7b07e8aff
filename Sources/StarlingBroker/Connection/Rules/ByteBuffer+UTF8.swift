import NIOCore

extension ByteBuffer {
    /// Whether the readable bytes are well-formed UTF-8 (for Payload Format Indicator 1).
    var isValidUTF8: Bool {
        withUnsafeReadableBytes { String(validating: $0, as: UTF8.self) != nil }
    }
}
