import SecAggNoise

/// Why a secure connection failed or was closed. Every case names whose fault it is in its description and never
/// includes message contents.
public enum TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection ended in the middle of a frame.
    case truncatedFrame(bytes: Int)
    /// A frame to send is over 65,535 bytes (a local bug).
    case frameTooLarge(bytes: Int)
    /// The Noise handshake failed (bad message, wrong prologue, authentication failure).
    case handshakeFailed(NoiseError)
    /// The handshake did not finish in time.
    case handshakeTimedOut
    /// The peer authenticated, but is not who we accept: not enrolled, or not the pinned coordinator.
    case peerRejected(reason: String)
    /// The peer's handshake payload is malformed.
    case malformedHandshakePayload(reason: String)
    /// A received frame failed decryption or arrived after a failure.
    case decryptionFailed(NoiseError)
    /// The peer announced an application message larger than the configured maximum.
    case messageTooLarge(announced: Int, maximum: Int)
    /// A message's fragments do not add up (a fragment too short to hold the length, or too many bytes).
    case malformedMessage(reason: String)
    /// The peer started a message where it may send none (a client waiting for a round).
    case unexpectedMessage(announced: Int)
    /// A message whose size was reserved did not arrive within its body deadline (a stalled or too slow sender).
    case messageTooSlow(received: Int, announced: Int)
    /// Nothing arrived within the idle timeout.
    case idleTimeout
    /// The peer closed the connection.
    case connectionClosed
    /// This side was asked to send a message over its own ``TransportLimits/maximumMessageBytes`` (a local
    /// refusal: nothing was sent and the session stays usable).
    case sendTooLarge(bytes: Int, maximum: Int)
    /// This side could not encrypt a frame (its nonce space is exhausted); the session is unusable.
    case encryptionFailed(NoiseError)
    /// An earlier send on this session failed after encrypting (it was cancelled, or the channel closed), so its
    /// frames may be missing and nothing more can be sent in order; the session is unusable.
    case sendInterrupted

    /// Whose failure an error is, so a caller blames the right party: the peer (it sent something the protocol
    /// forbids, or authenticated as someone not accepted), this side (a local limit or fault), or the connection
    /// (a timeout or close, which either side or the network may have caused).
    public enum Fault: Sendable, Hashable {
        case peer
        case local
        case connection
    }

    /// Whose failure this is (``Fault``).
    public var fault: Fault {
        switch self {
        case .handshakeFailed, .peerRejected, .malformedHandshakePayload, .decryptionFailed, .messageTooLarge,
             .malformedMessage, .unexpectedMessage:
            return .peer
        case .frameTooLarge, .sendTooLarge, .encryptionFailed, .sendInterrupted:
            return .local
        case .truncatedFrame, .handshakeTimedOut, .messageTooSlow, .idleTimeout, .connectionClosed:
            return .connection
        }
    }

    public var description: String {
        switch self {
        case let .truncatedFrame(bytes): return "peer closed the connection inside a frame (\(bytes) bytes pending)"
        case let .frameTooLarge(bytes): return "local error: frame of \(bytes) bytes exceeds 65535"
        case .handshakeFailed(.decryptionFailed):
            // The prologue names the protocol version (SPEC §10): a peer of another version fails exactly here.
            return "Noise handshake failed: the peer's handshake message does not decrypt; it speaks another protocol "
                + "version (this side speaks \(String(decoding: SecureHandshake.prologue, as: UTF8.self))) or holds "
                + "another key"
        case let .handshakeFailed(error): return "Noise handshake failed: \(error)"
        case .handshakeTimedOut: return "Noise handshake timed out"
        case let .peerRejected(reason): return "peer rejected: \(reason)"
        case let .malformedHandshakePayload(reason): return "malformed handshake payload: \(reason)"
        case let .decryptionFailed(error): return "peer sent an undecryptable frame: \(error)"
        case let .messageTooLarge(announced, maximum):
            return "peer announced a \(announced)-byte message, the limit is \(maximum)"
        case let .malformedMessage(reason): return "peer sent a malformed message: \(reason)"
        case let .unexpectedMessage(announced):
            return "peer sent a message (\(announced) bytes announced) where none is allowed"
        case let .messageTooSlow(received, announced):
            return "peer sent only \(received) of \(announced) announced bytes before the message's deadline"
        case .idleTimeout: return "connection idle for too long"
        case .connectionClosed: return "peer closed the connection"
        case let .sendTooLarge(bytes, maximum):
            return "local limit: a message of \(bytes) bytes is over this side's maximum_message_bytes (\(maximum)); nothing was sent"
        case let .encryptionFailed(error): return "local error: a frame could not be encrypted: \(error)"
        case .sendInterrupted:
            return "local error: an earlier send on this connection was interrupted after encrypting; nothing more can be sent"
        }
    }
}
