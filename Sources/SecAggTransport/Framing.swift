import NIOCore

/// The TCP framing of secagg (SPEC §2.6): every Noise message is preceded by its length as a 2-byte big-endian
/// integer, so a frame carries at most 65,535 bytes.
public enum Framing {
    /// The largest frame body.
    public static let maximumFrameBytes = 65_535
}

/// Splits the TCP byte stream into frames. A frame can never exceed 65,535 bytes, so a peer cannot make the
/// decoder buffer more than one frame plus its 2-byte header.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw TransportError.truncatedFrame(bytes: buffer.readableBytes)
        }
        return .needMoreData
    }
}

/// Prefixes each outbound frame with its 2-byte big-endian length.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        guard data.readableBytes <= Framing.maximumFrameBytes else {
            throw TransportError.frameTooLarge(bytes: data.readableBytes)
        }
        out.writeInteger(UInt16(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}
