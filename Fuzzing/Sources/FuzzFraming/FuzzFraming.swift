// Fuzzes the byte stream of a connection: 2-byte big-endian frame reassembly (SPEC §2.6.1) over input delivered in
// chunks whose sizes the input chooses, then application-message reassembly (SPEC §2.6.4) of the frames.
// Properties: no trap; every frame the decoder emits is exactly the bytes its length prefix covers, in order; a
// message is only ever complete at its announced length, never larger than the limit.
import NIOCore
import NIOEmbedded
import SecAggTransport

private let maximumMessageBytes = 4096

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte sets the chunk size in which the stream arrives (1…256 bytes).
    let chunk = Int(input[0]) + 1
    let stream = Array(input.dropFirst())
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder()))
    defer { _ = try? channel.finish() }
    var frames: [[UInt8]] = []
    var offset = 0
    while offset < stream.count {
        let end = min(offset + chunk, stream.count)
        do {
            try channel.writeInbound(ByteBuffer(bytes: stream[offset..<end]))
        } catch {
            break
        }
        while let frame = try? channel.readInbound(as: ByteBuffer.self) {
            frames.append(Array(frame.readableBytesView))
        }
        offset = end
    }
    // The frames must be the stream's own frames, in order.
    var position = 0
    for frame in frames {
        guard position + 2 <= stream.count else { fatalError("a frame without its length prefix") }
        let length = Int(stream[position]) << 8 | Int(stream[position + 1])
        guard length == frame.count, Array(stream[position + 2..<position + 2 + length]) == frame else {
            fatalError("frame \(frames.count) differs from the stream's bytes")
        }
        position += 2 + length
    }
    // Reassemble messages from the frames, as the receiver does with their plaintexts.
    var assembly: MessageAssembler?
    for frame in frames {
        do {
            if var current = assembly {
                try current.append(frame)
                assembly = current
            } else {
                assembly = try MessageAssembler(firstFragment: frame, maximumMessageBytes: maximumMessageBytes)
            }
        } catch {
            return 0
        }
        if let current = assembly {
            guard current.announcedLength <= maximumMessageBytes, current.message.count <= current.announcedLength else {
                fatalError("assembled \(current.message.count) bytes of an announced \(current.announcedLength)")
            }
            if current.isComplete { assembly = nil }
        }
    }
    return 0
}
