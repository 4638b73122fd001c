import NIOCore
import NIOEmbedded
import NIOTestUtils
import SecAggTransport
import Testing

/// The 2-byte big-endian length framing (SPEC §2.6): the decoder against split and partial input, the
/// boundaries of the frame size, and a connection that ends inside a frame.
@Suite("Framing")
struct FramingTests {
    /// A frame as it travels: the 2-byte big-endian length, then the body.
    static func wire(_ body: [UInt8]) -> [UInt8] {
        [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) }
    }

    // Proves the decoder yields the same frames however the stream is cut (byte by byte, in random chunks,
    // all at once), including zero-length frames and several frames in one read (NIO's decoder verifier).
    @Test("the decoder is correct for any split of its input")
    func verifierSplitsInput() throws {
        let frames: [[UInt8]] = [[], [0x42], Self.pattern(300), [], Self.pattern(2), Self.pattern(1000, seed: 3)]
        let allInOne = frames.flatMap(Self.wire)
        var pairs: [(ByteBuffer, [ByteBuffer])] = frames.map { (ByteBuffer(bytes: Self.wire($0)), [ByteBuffer(bytes: $0)]) }
        pairs.append((ByteBuffer(bytes: allInOne), frames.map { ByteBuffer(bytes: $0) }))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs, decoderFactory: { FrameDecoder() })
    }

    // Proves a zero-length frame is delivered as an empty buffer and not dropped or merged with the next frame.
    @Test("a zero-length frame is delivered as an empty frame")
    func zeroLengthFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 0xAB]))
        let empty = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(empty.readableBytes == 0)
        let next = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(Array(next.readableBytesView) == [0xAB])
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try channel.finish().isClean)
    }

    // Proves the largest frame (length 0xFFFF) is decoded whole, and only once its last byte has arrived.
    @Test("a 65535-byte frame is decoded whole, not before its last byte")
    func maximumFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        let body = Self.pattern(65_535)
        let bytes = Self.wire(body)
        #expect(bytes.prefix(2) == [0xFF, 0xFF])
        try channel.writeInbound(ByteBuffer(bytes: bytes.dropLast()))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(bytes: bytes.suffix(1)))
        let frame = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(Array(frame.readableBytesView) == body)
        #expect(try channel.finish().isClean)
    }

    /// A stream that ends inside a frame: complete frames, then a partial one.
    struct Leftover: Sendable, CustomTestStringConvertible {
        var complete: [[UInt8]]
        var partial: [UInt8]
        var testDescription: String { "\(complete.count) whole frame(s), then \(partial.count) pending bytes" }
    }

    // Proves bytes left over at EOF (half a header, a header with a short body, a maximum frame missing its
    // last byte) fail with truncatedFrame naming the pending byte count, while whole frames before them are
    // still delivered.
    @Test("leftover bytes at EOF fail with truncatedFrame", arguments: [
        Leftover(complete: [], partial: [0x00]),
        Leftover(complete: [[1, 2, 3]], partial: [0x00, 0x05, 1, 2, 3]),
        Leftover(complete: [[], [9]], partial: [0xFF, 0xFF] + [UInt8](repeating: 9, count: 65_534)),
    ])
    func leftoverAtEOF(_ leftover: Leftover) throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: leftover.complete.flatMap(Self.wire) + leftover.partial))
        for expected in leftover.complete {
            let frame = try #require(try channel.readInbound(as: ByteBuffer.self))
            #expect(Array(frame.readableBytesView) == expected)
        }
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: TransportError.truncatedFrame(bytes: leftover.partial.count)) {
            _ = try channel.finish()
        }
    }

    // Proves a clean EOF on a frame boundary is not an error.
    @Test("EOF on a frame boundary is clean")
    func cleanEOF() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
        try channel.writeInbound(ByteBuffer(bytes: Self.wire([7, 7])))
        #expect(try channel.readInbound(as: ByteBuffer.self) != nil)
        #expect(try channel.finish().isClean)
    }

    // Proves the encoder writes the 2-byte big-endian length before the body, for 0, 1, 256 and 65535 bytes.
    @Test("the encoder prefixes the big-endian length", arguments: [0, 1, 256, 65_535])
    func encoderPrefixes(count: Int) throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        let body = Self.pattern(count)
        try channel.writeOutbound(ByteBuffer(bytes: body))
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(written.readableBytesView) == Self.wire(body))
        #expect(try channel.finish().isClean)
    }

    // Proves the encoder refuses a body over 65535 bytes (whose length would not fit in 2 bytes) with
    // frameTooLarge and writes nothing.
    @Test("the encoder rejects a frame over 65535 bytes", arguments: [65_536, 70_000])
    func encoderRejectsOversized(count: Int) throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder()))
        #expect(throws: TransportError.frameTooLarge(bytes: count)) {
            try channel.writeOutbound(ByteBuffer(bytes: Self.pattern(count)))
        }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}
