/// Errors raised by the Noise handshake and transport.
///
/// Errors caused by the peer or the network (`decryptionFailed`, `truncated`, `weakKey`, an oversized or
/// out-of-turn incoming message) end the session: Noise requires an aborted handshake to be discarded, so the
/// failing call reports the cause and every later call on the same object throws ``handshakeFailed`` (for a
/// ``NoiseHandshake``) or ``transportFailed`` (for a ``NoiseTransport``). Errors in a local call that changed
/// nothing (writing out of turn, a payload that does not fit) are not sticky; each method documents which
/// is which.
public enum NoiseError: Error, Equatable, Sendable {
    /// The call does not fit the handshake's state: writing when it is the peer's turn, reading when it is
    /// ours, exchanging messages after the handshake completed, or splitting before it completed.
    case outOfOrder

    /// A message would exceed, or an incoming message exceeds, Noise's limit of 65535 bytes.
    case messageTooLarge

    /// An incoming message is shorter than its pattern requires (a missing public key or authentication tag).
    case truncated

    /// An authentication tag did not verify: the message was corrupted or forged, or the peers disagree on
    /// the prologue, the pattern, or a static key (for IK, the initiator expected a different responder key).
    case decryptionFailed

    /// A Diffie–Hellman computation produced the all-zero output: a peer's public key is a low-order point.
    case weakKey

    /// The pattern needs a key that was not supplied: a local static key, or (for IK's initiator) the
    /// responder's static public key known in advance.
    case missingKey

    /// A key was supplied that the pattern never uses (for example a remote static key with XX, which learns
    /// it during the handshake). Rejected so that a caller cannot mistake it for key pinning.
    case unusedKey

    /// A cipher state's nonce reached 2^64 − 1, the value Noise reserves; the session must be re-established.
    case nonceExhausted

    /// An earlier call failed and aborted the handshake; this object can no longer be used.
    case handshakeFailed

    /// An earlier decryption failed and ended the transport session; this object can no longer be used.
    case transportFailed
}
