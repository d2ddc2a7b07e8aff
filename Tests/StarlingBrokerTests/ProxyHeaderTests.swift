import NIOCore
@testable import StarlingBroker
import Testing

/// PROXY protocol header parsing on its own: what is taken from the front of the buffer and what is left.
@Suite struct ProxyHeaderTests {
    static let signature = ProxyHeader.v2Signature

    @Test func version1LeavesWhatFollowsTheLine() throws {
        var buffer = ByteBuffer(string: "PROXY TCP4 192.0.2.10 192.0.2.1 5000 1883\r\nMQTT")
        let header = try #require(try ProxyHeader.parse(&buffer))
        #expect(header.source == (try SocketAddress(ipAddress: "192.0.2.10", port: 5000)))
        #expect(String(buffer: buffer) == "MQTT")
    }

    @Test func version1Unknown() throws {
        var buffer = ByteBuffer(string: "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")
        #expect(try ProxyHeader.parse(&buffer) == ProxyHeader(source: nil))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: ["", "P", "PROXY", "PROXY TCP4 192.0.2.10", "\r\n\r\n\0\r\nQ", "\r\n\r\n\0\r\nQUIT\n\u{21}\u{11}\0"])
    func incompleteHeaderWaitsForMore(_ prefix: String) throws {
        var buffer = ByteBuffer(string: prefix)
        #expect(try ProxyHeader.parse(&buffer) == nil)
        #expect(buffer.readableBytes == prefix.utf8.count)
    }

    @Test func version2UnixSocketsKeepTheSocketAddress() throws {
        // AF_UNIX stream: 216 bytes of paths the broker has no use for.
        var buffer = ByteBuffer(bytes: Self.signature + [0x21, 0x31, 0x00, 0xD8] + Array(repeating: 0x2F, count: 216) + [0x10])
        #expect(try ProxyHeader.parse(&buffer) == ProxyHeader(source: nil))
        #expect(buffer.readableBytesView.elementsEqual([0x10]))
    }

    @Test func version2ShortAddressBlockIsMalformed() {
        var buffer = ByteBuffer(bytes: Self.signature + [0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4])
        #expect(throws: ProxyHeader.Malformed.self) { try ProxyHeader.parse(&buffer) }
    }

    @Test func version2WithVersion1IsMalformed() {
        var buffer = ByteBuffer(bytes: Self.signature + [0x11, 0x11, 0x00, 0x00])
        #expect(throws: ProxyHeader.Malformed.self) { try ProxyHeader.parse(&buffer) }
    }
}
