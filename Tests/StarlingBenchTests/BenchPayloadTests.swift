import NIOCore
import Testing

@testable import StarlingBench

@Suite struct BenchPayloadTests {
    @Test func headerRoundTripsAndPadsToTheRequestedSize() {
        var buffer = ByteBuffer()
        let header = BenchPayload.Header(sequence: 0x0102_0304_0506_0708, publisher: 0xA0B0_C0D0, sentAt: 123_456_789_012)
        BenchPayload.write(header, size: 64, to: &buffer)
        #expect(buffer.readableBytes == 64)
        #expect(BenchPayload.read(buffer) == header)
        #expect(buffer.getBytes(at: 20, length: 44) == Array(repeating: UInt8(ascii: "x"), count: 44))
    }

    @Test func sizeBelowTheHeaderKeepsTheHeader() {
        var buffer = ByteBuffer()
        BenchPayload.write(.init(sequence: 1, publisher: 2, sentAt: 3), size: 4, to: &buffer)
        #expect(buffer.readableBytes == BenchPayload.headerSize)
    }

    @Test func headerIsReadFromTheReaderIndex() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF])
        buffer.moveReaderIndex(forwardBy: 2)
        BenchPayload.write(.init(sequence: 9, publisher: 8, sentAt: 7), size: 20, to: &buffer)
        #expect(BenchPayload.read(buffer) == .init(sequence: 9, publisher: 8, sentAt: 7))
    }

    @Test func aShortPayloadHasNoHeader() {
        #expect(BenchPayload.read(ByteBuffer(bytes: Array(repeating: 1, count: 19))) == nil)
        #expect(BenchPayload.read(ByteBuffer()) == nil)
    }

    @Test func patternsExpandIndexAndRunTag() {
        #expect(expand("bench/%i/x", index: 42) == "bench/42/x")
        #expect(expand("c-%r-%i", index: 7, run: "ab") == "c-ab-7")
        #expect(expand("plain", index: 1) == "plain")
        #expect(expand("100%", index: 1) == "100%")
        #expect(expand("%x%i", index: 3) == "%x3")
    }

    @Test func residentMemoryLineIsParsedInBytesOfKilobytes() {
        #expect(ProcessMemory.parseResident("VmRSS:\t   12345 kB\n") == 12345)
        #expect(ProcessMemory.parseResident("VmHWM:\t   12345 kB\n") == nil)
    }
}
