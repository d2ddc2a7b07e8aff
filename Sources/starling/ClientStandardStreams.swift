import Foundation

/// Standard input and output for `pub` and `sub`: unbuffered output (a script reading `sub` sees each message
/// at once) and standard input read off the cooperative thread pool.
enum ClientStandardStreams {
    static let standardOutput: Int32 = 1
    static let standardError: Int32 = 2

    /// Writes `bytes` to standard output (or `descriptor`) right away.
    static func write(_ bytes: [UInt8], to descriptor: Int32 = standardOutput) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// All of standard input.
    static func readAll() -> [UInt8] {
        Array(FileHandle.standardInput.readDataToEndOfFile())
    }

    /// Standard input line by line, read on a thread of its own.
    static func lines() -> AsyncStream<String> {
        AsyncStream { continuation in
            Thread.detachNewThread {
                while let line = readLine(strippingNewline: true) { continuation.yield(line) }
                continuation.finish()
            }
        }
    }
}
