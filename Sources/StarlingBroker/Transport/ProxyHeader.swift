import NIOCore

/// What a PROXY protocol header says about the connection.
struct ProxyHeader: Equatable {
    /// The client's address; nil for version 2 LOCAL, version 1 UNKNOWN and address families other than TCP.
    var source: SocketAddress?

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static let v1Prefix: [UInt8] = Array("PROXY ".utf8)
    /// A version 1 line is at most 107 bytes, CRLF included.
    static let v1MaximumLength = 107
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Reads a complete header from the front of `buffer`, leaving what follows it; nil when more bytes are needed.
    static func parse(_ buffer: inout ByteBuffer) throws -> ProxyHeader? {
        let available = buffer.readableBytesView
        // Decide the version as soon as the bytes seen so far can only be one of them.
        if available.starts(with: v1Prefix.prefix(available.count)) {
            guard available.count >= v1Prefix.count else { return nil }
            return try parseV1(&buffer)
        }
        if available.starts(with: v2Signature.prefix(available.count)) {
            guard available.count >= v2Signature.count else { return nil }
            return try parseV2(&buffer)
        }
        throw Malformed(description: "no PROXY protocol signature")
    }

    private static func parseV1(_ buffer: inout ByteBuffer) throws -> ProxyHeader? {
        let view = buffer.readableBytesView
        guard let lineFeed = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count >= v1MaximumLength { throw Malformed(description: "version 1 line longer than 107 bytes") }
            return nil
        }
        let length = lineFeed - view.startIndex + 1
        guard length <= v1MaximumLength, length >= 2, view[lineFeed - 1] == UInt8(ascii: "\r") else {
            throw Malformed(description: "version 1 line not ended by CRLF within 107 bytes")
        }
        let line = String(decoding: view[view.startIndex..<(lineFeed - 1)], as: UTF8.self)
        buffer.moveReaderIndex(forwardBy: length)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 2 else { throw Malformed(description: "version 1 line without a protocol") }
        switch fields[1] {
        case "UNKNOWN":
            // The proxy could not tell: the rest of the line is to be ignored.
            return ProxyHeader(source: nil)
        case "TCP4", "TCP6":
            guard fields.count == 6, let port = Int(fields[4]), (0...65_535).contains(port), Int(fields[5]).map({ (0...65_535).contains($0) }) == true
            else {
                throw Malformed(description: "version 1 line is not PROXY TCPn source destination sourceport destport")
            }
            let address: SocketAddress
            do {
                address = try SocketAddress(ipAddress: String(fields[2]), port: port)
            } catch {
                throw Malformed(description: "version 1 source address \(fields[2]) is not an IP address")
            }
            let expectsV6 = fields[1] == "TCP6"
            if case .v6 = address, !expectsV6 { throw Malformed(description: "TCP4 with an IPv6 address") }
            if case .v4 = address, expectsV6 { throw Malformed(description: "TCP6 with an IPv4 address") }
            return ProxyHeader(source: address)
        default:
            throw Malformed(description: "version 1 protocol \(fields[1]) is not TCP4, TCP6 or UNKNOWN")
        }
    }

    private static func parseV2(_ buffer: inout ByteBuffer) throws -> ProxyHeader? {
        guard buffer.readableBytes >= 16,
            let versionCommand = buffer.getInteger(at: buffer.readerIndex + 12, as: UInt8.self),
            let family = buffer.getInteger(at: buffer.readerIndex + 13, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 14, as: UInt16.self)
        else { return nil }
        guard versionCommand >> 4 == 2 else { throw Malformed(description: "version 2 signature with version \(versionCommand >> 4)") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { throw Malformed(description: "version 2 command \(command) is neither LOCAL nor PROXY") }
        guard buffer.readableBytes >= 16 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 16)
        // The addresses come first; TLVs may follow them within `length` and are skipped with it.
        var block = buffer.readSlice(length: Int(length))!
        guard command == 1 else { return ProxyHeader(source: nil) }
        switch family {
        case 0x11:  // TCP over IPv4
            guard let bytes = block.readBytes(length: 8), let port = block.readInteger(as: UInt16.self) else {
                throw Malformed(description: "version 2 IPv4 address block shorter than 12 bytes")
            }
            let host = bytes[0..<4].map(String.init).joined(separator: ".")
            return ProxyHeader(source: try SocketAddress(ipAddress: host, port: Int(port)))
        case 0x21:  // TCP over IPv6
            guard let bytes = block.readBytes(length: 32), let port = block.readInteger(as: UInt16.self) else {
                throw Malformed(description: "version 2 IPv6 address block shorter than 36 bytes")
            }
            let host = stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":")
            return ProxyHeader(source: try SocketAddress(ipAddress: host, port: Int(port)))
        default:
            // UNSPEC, UDP and UNIX sockets: no TCP client address to report, so the socket's stays.
            return ProxyHeader(source: nil)
        }
    }
}
