import SecAggCrypto

/// The two cipher states of an established Noise session (§5.2 `Split`, §5.1), sans-IO: one encrypts this
/// party's messages, the other decrypts the peer's. Associated data is empty; each direction's nonce counts
/// messages from 0.
///
/// Messages must be decrypted in the order they were encrypted, each exactly once, which is what a TCP stream
/// delivers. A message that fails to decrypt therefore means corruption or an attack, and ends the session:
/// the failing call names the cause and every later ``encrypt(_:)`` or ``decrypt(_:)`` throws
/// ``NoiseError/transportFailed``.
///
/// The type is non-copyable: two copies would encrypt different messages under the same key and nonce, which
/// breaks ChaChaPoly completely. Keys are held in ``SecureBytes``-backed types and never printed.
public struct NoiseTransport: ~Copyable, Sendable {
    /// Noise's maximum message length in bytes (§3).
    public static let maxMessageLength = NoiseHandshake.maxMessageLength

    /// The largest plaintext one message carries: ``maxMessageLength`` minus the 16-byte tag. Longer
    /// application messages must be split by the caller.
    public static let maxPlaintextLength = maxMessageLength - ChaChaPoly.tagByteCount

    /// This party's role in the handshake that created the session.
    public let role: NoiseRole

    /// The final handshake hash, equal on both sides; identifies the session for channel binding.
    public let handshakeHash: [UInt8]

    /// The peer's static public key as established by the handshake (`nil` for NN).
    public let remoteStaticKey: X25519.PublicKey?

    private var sender: CipherState
    private var receiver: CipherState

    /// `true` once a decryption has failed and ended the session.
    public private(set) var hasFailed = false

    init(
        role: NoiseRole, sender: CipherState, receiver: CipherState, handshakeHash: [UInt8],
        remoteStaticKey: X25519.PublicKey?
    ) {
        self.role = role
        self.sender = sender
        self.receiver = receiver
        self.handshakeHash = handshakeHash
        self.remoteStaticKey = remoteStaticKey
    }

    /// Messages encrypted so far: the nonce of the next ``encrypt(_:)``.
    public var sendingNonce: UInt64 { sender.nonce }

    /// Messages decrypted so far: the nonce of the next ``decrypt(_:)``.
    public var receivingNonce: UInt64 { receiver.nonce }

    /// Encrypts the next message to the peer with the next nonce.
    ///
    /// Never repeats a nonce, so encrypting the same plaintext twice gives different ciphertexts.
    ///
    /// - Returns: ciphertext ‖ 16-byte tag.
    /// - Throws: ``NoiseError/messageTooLarge`` if `plaintext` exceeds ``maxPlaintextLength`` bytes (nothing
    ///   changes); ``NoiseError/nonceExhausted`` after 2^64 − 1 messages; ``NoiseError/transportFailed`` if a
    ///   decryption failed before.
    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !hasFailed else { throw .transportFailed }
        guard plaintext.count <= Self.maxPlaintextLength else { throw .messageTooLarge }
        return try sender.encrypt(associatedData: [], plaintext: SecureBytes(copying: plaintext))
    }

    /// Verifies and decrypts the peer's next message.
    ///
    /// Every failure ends the session (later calls throw ``NoiseError/transportFailed``).
    ///
    /// - Throws: ``NoiseError/messageTooLarge`` if `ciphertext` exceeds ``maxMessageLength`` bytes;
    ///   ``NoiseError/truncated`` if it is shorter than a tag; ``NoiseError/decryptionFailed`` if it was not
    ///   produced by the peer's next ``encrypt(_:)`` (tampered, replayed, reordered or from another session);
    ///   ``NoiseError/nonceExhausted`` after 2^64 − 1 messages; ``NoiseError/transportFailed`` if a decryption
    ///   failed before.
    public mutating func decrypt(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !hasFailed else { throw .transportFailed }
        do throws(NoiseError) {
            guard ciphertext.count <= Self.maxMessageLength else { throw .messageTooLarge }
            guard ciphertext.count >= ChaChaPoly.tagByteCount else { throw .truncated }
            return try receiver.decrypt(associatedData: [], ciphertext: ciphertext).unsafeCopyToArray()
        } catch {
            hasFailed = true
            throw error
        }
    }

    /// Replaces the sending key with `REKEY(k)` (§11.2), keeping the nonce. The peer must call
    /// ``rekeyReceiving()`` at the same point of the message stream; when is for the application to agree on.
    public mutating func rekeySending() {
        sender.rekey()
    }

    /// Replaces the receiving key with `REKEY(k)` (§11.2), keeping the nonce; the counterpart of the peer's
    /// ``rekeySending()``.
    public mutating func rekeyReceiving() {
        receiver.rekey()
    }

    /// Sets both nonces; for tests of nonce exhaustion only.
    mutating func setNonces(sending: UInt64, receiving: UInt64) {
        sender.setNonce(sending)
        receiver.setNonce(receiving)
    }
}
