#if canImport(Glibc)
import Glibc

private let streamSocket = Int32(SOCK_STREAM.rawValue)
/// No SIGPIPE when the broker has gone: asked for on each send.
private let sendFlags = Int32(MSG_NOSIGNAL)
private func closeDescriptor(_ descriptor: Int32) { _ = Glibc.close(descriptor) }
#elseif canImport(Darwin)
import Darwin

private let streamSocket = SOCK_STREAM
/// No SIGPIPE when the broker has gone: Darwin has no MSG_NOSIGNAL, so the socket is set to SO_NOSIGPIPE instead.
private let sendFlags: Int32 = 0
private func closeDescriptor(_ descriptor: Int32) { _ = Darwin.close(descriptor) }
#endif

/// A blocking TCP socket to the broker with no event loop in between: what the kernel says about a write or a
/// read (a reset, the end of the stream) reaches the test as it is.
struct PlainSocket: ~Copyable {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var errno: Int32
        var description: String { "\(operation) failed: errno \(errno)" }
    }

    private let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, streamSocket, 0)
        guard descriptor >= 0 else { throw Failure(operation: "socket", errno: errno) }
        // Reads wait at most 20 s: a broker that stops answering fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Darwin)
        var noSignal: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &noSignal, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            closeDescriptor(descriptor)
            throw Failure(operation: "connect", errno: error)
        }
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, sendFlags) }
            guard written > 0 else { throw Failure(operation: "send", errno: errno) }
            offset += written
        }
    }

    /// Reads until at least `count` bytes have come.
    func read(atLeast count: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        while received.count < count {
            let chunk = try readChunk()
            guard !chunk.isEmpty else { break }
            received += chunk
        }
        return received
    }

    /// Reads until the broker ends the stream.
    func readToEnd() throws -> [UInt8] {
        var received: [UInt8] = []
        while true {
            let chunk = try readChunk()
            if chunk.isEmpty { return received }
            received += chunk
        }
    }

    private func readChunk() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw Failure(operation: "recv", errno: errno) }
        return Array(buffer[..<count])
    }

    func close() {
        closeDescriptor(descriptor)
    }

    /// Each MQTT packet in `bytes`: its type (the first byte's high nibble, shifted back) and the first byte of its
    /// variable header, if any.
    static func packetTypesAndFirstBytes(_ bytes: [UInt8]) -> [(type: UInt8, firstByte: UInt8?)] {
        var packets: [(type: UInt8, firstByte: UInt8?)] = []
        var index = 0
        while index < bytes.count {
            let type = bytes[index] & 0xF0
            var length = 0
            var shift = 0
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                length |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            packets.append((type, length > 0 && index < bytes.count ? bytes[index] : nil))
            index += length
        }
        return packets
    }
}
