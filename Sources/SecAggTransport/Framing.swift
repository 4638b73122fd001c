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

/// The outbound half of the framing as the transport's pipeline uses it: like `MessageToByteHandler(FrameEncoder())`
/// on the wire, but without copying. `MessageToByteHandler` copies every frame into one buffer it keeps for the
/// life of the channel; for 16 KiB fragments that buffer grows to 32 KiB, which a server with a thousand
/// connections pays a thousand times (about a third of the coordinator's heap), plus a 16 KiB copy per frame.
/// This handler instead writes a 2-byte length buffer and then the frame's own buffer (the socket writes both in
/// one `writev`), so nothing is retained per connection between writes.
final class FrameWriter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var failure: TransportError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let failure {
            promise?.fail(failure)
            return
        }
        let frame = Self.unwrapOutboundIn(data)
        guard frame.readableBytes <= Framing.maximumFrameBytes else {
            // As MessageToByteHandler does with an encoder error: fail this write and every later one.
            let error = TransportError.frameTooLarge(bytes: frame.readableBytes)
            failure = error
            promise?.fail(error)
            context.fireErrorCaught(error)
            return
        }
        var header = context.channel.allocator.buffer(capacity: 2)
        header.writeInteger(UInt16(frame.readableBytes))
        context.write(Self.wrapOutboundOut(header), promise: nil)
        context.write(Self.wrapOutboundOut(frame), promise: promise)
    }
}
