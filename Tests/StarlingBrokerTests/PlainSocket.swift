#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking TCP socket to the broker with no event loop in between: what the kernel says about a write or a
/// read (a reset, the end of the stream) reaches the test as it is.
final class PlainSocket {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var errno: Int32
        var description: String { "\(operation) failed: errno \(errno)" }
    }

    private let descriptor: Int32
    /// Bytes read but not yet taken as a packet by `nextPacket`.
    private var pending: [UInt8] = []

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(operation: "socket", errno: errno) }
        // Reads wait at most 20 s: a broker that stops answering fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Each write leaves at once, in the order written, not held back behind an unacknowledged one.
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw Failure(operation: "connect", errno: error)
        }
    }

    /// CONNECT 3.1.1, Clean Session, keep alive 0; returns once CONNACK is read.
    func connect311(_ clientIdentifier: String) throws {
        let identifier = Array(clientIdentifier.utf8)
        let body: [UInt8] = [0x00, 0x04] + Array("MQTT".utf8) + [0x04, 0x02, 0x00, 0x00] + Self.string(identifier)
        try write([0x10, UInt8(body.count)] + body)
        guard try nextPacket().firstByte == 0x20 else { throw Failure(operation: "CONNACK", errno: 0) }
    }

    /// SUBSCRIBE (3.1.1) to one filter at QoS 0.
    static func subscribe(_ filter: String, packetIdentifier: UInt16) -> [UInt8] {
        let body = [UInt8(packetIdentifier >> 8), UInt8(packetIdentifier & 0xFF)] + string(Array(filter.utf8)) + [0x00]
        return [0x82, UInt8(body.count)] + body
    }

    /// PUBLISH at QoS 0.
    static func publish(_ topic: String, _ payload: String) -> [UInt8] {
        let body = string(Array(topic.utf8)) + Array(payload.utf8)
        return [0x30, UInt8(body.count)] + body
    }

    /// The topic of a PUBLISH packet's body.
    static func topic(ofPublish body: [UInt8]) -> String {
        let length = Int(body[0]) << 8 | Int(body[1])
        return String(decoding: body[2..<(2 + length)], as: UTF8.self)
    }

    private static func string(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
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
        Glibc.close(descriptor)
    }

    /// The next whole MQTT packet: its first byte and what follows the remaining length.
    func nextPacket() throws -> (firstByte: UInt8, body: [UInt8]) {
        while true {
            if let (header, length) = Self.header(pending), pending.count >= header + length {
                let packet = (pending[0], Array(pending[header..<(header + length)]))
                pending.removeFirst(header + length)
                return packet
            }
            let chunk = try readChunk()
            guard !chunk.isEmpty else { throw Failure(operation: "recv (end of stream)", errno: 0) }
            pending += chunk
        }
    }

    /// The fixed header's size and the remaining length, once `bytes` holds the whole fixed header.
    private static func header(_ bytes: [UInt8]) -> (header: Int, length: Int)? {
        var length = 0
        var shift = 0
        var index = 1
        while index < bytes.count, index <= 4 {
            let byte = bytes[index]
            index += 1
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { return (index, length) }
        }
        return nil
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
