import SecAggCrypto

/// A Noise handshake in progress (Noise revision 34 §5.3, HandshakeState), sans-IO: it turns payloads into
/// handshake messages and back, and after the last message ``split()`` yields the ``NoiseTransport``.
///
/// The suite is fixed to 25519, ChaChaPoly and BLAKE2b; the pattern is data (``NoisePattern``), so XX (secagg's
/// TCP pattern), IK and NN all run through the same code. Framing (the 2-byte length prefix on TCP) is the
/// caller's business.
///
/// Turns alternate strictly: the initiator writes message 0, the responder reads it and writes message 1, and
/// so on (``isMyTurnToWrite`` tells which call comes next). Any failed read, and any Diffie–Hellman failure,
/// aborts the handshake as Noise requires: the failing call reports the cause and every later call throws
/// ``NoiseError/handshakeFailed``.
///
/// The type is non-copyable so that a completed handshake cannot be split twice into two transports that would
/// encrypt different messages under the same keys and nonces. Secrets (chaining key, cipher key, static and
/// ephemeral private keys) are held in ``SecureBytes``-backed types, zeroed on release and never printed.
///
/// Typical use (the initiator; the responder starts by reading):
///
///     var random = SystemRandom()
///     var handshake = try NoiseHandshake(
///         pattern: .xx, role: .initiator, prologue: prologue, staticKey: identity, ephemeralSource: &random)
///     send(try handshake.writeMessage(payload: []))
///     _ = try handshake.readMessage(receive())
///     send(try handshake.writeMessage(payload: []))
///     var transport = try handshake.split()
public struct NoiseHandshake: ~Copyable, Sendable {
    /// Noise's maximum message length in bytes (§3), for handshake and transport messages alike.
    public static let maxMessageLength = 65535

    /// The handshake pattern being run.
    public let pattern: NoisePattern

    /// This party's role.
    public let role: NoiseRole

    /// The full protocol name hashed into the handshake, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2b`.
    public var protocolName: NoiseProtocolName { NoiseProtocolName(pattern: pattern) }

    private var symmetric: SymmetricState
    private let localStatic: X25519.PrivateKey?
    private let localEphemeral: X25519.PrivateKey?
    private var remoteEphemeral: X25519.PublicKey?

    /// The peer's static public key: given up front (IK's initiator) or received during the handshake (XX once
    /// the peer's `s` token has been read, IK's responder after message 0); `nil` before that and for NN.
    ///
    /// A received key has been decrypted and authenticated as part of the handshake so far, which proves the
    /// peer holds its private key once a DH token involving it has been processed (for XX: after the message
    /// carrying it). Whether the key belongs to someone the application trusts is for the application to decide.
    public private(set) var remoteStaticKey: X25519.PublicKey?

    /// The number of handshake messages written or read so far.
    public private(set) var messageIndex = 0

    /// `true` once a call has failed and aborted the handshake.
    public private(set) var hasFailed = false

    /// Starts a handshake.
    ///
    /// Initialises the symmetric state with the protocol name, mixes in `prologue` (which both parties must
    /// pass identically: any difference makes the first authenticated message fail) and the pre-message public
    /// keys of the pattern. If this party sends an `e` token, its ephemeral key pair is drawn here: 32 bytes
    /// from `ephemeralSource` (production code passes ``SystemRandom``; tests replay a vector's ephemeral).
    ///
    /// - Parameters:
    ///   - pattern: The handshake pattern; both parties must use the same one.
    ///   - role: This party's role.
    ///   - prologue: Data both parties already share (e.g. a version string) to bind into the handshake hash.
    ///   - staticKey: This party's long-term key; required exactly when the pattern sends or uses it (XX: both
    ///     parties; IK: both; NN: neither).
    ///   - remoteStaticKey: The peer's static public key known in advance; required exactly when the pattern
    ///     has it as a pre-message (IK's initiator).
    ///   - ephemeralSource: The randomness for the ephemeral key.
    /// - Throws: ``NoiseError/missingKey`` if a required key is `nil`; ``NoiseError/unusedKey`` if a key is given
    ///   that the pattern does not use for this role.
    public init(
        pattern: NoisePattern, role: NoiseRole, prologue: [UInt8], staticKey: X25519.PrivateKey?,
        remoteStaticKey: X25519.PublicKey? = nil, ephemeralSource: inout some RandomSource
    ) throws(NoiseError) {
        let ownPreMessage = role == .initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage
        let peerPreMessage = role == .initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage
        let ownTokens = Self.tokensWritten(by: role, in: pattern)
        let ownStaticDH: Set<NoisePattern.Token> = role == .initiator ? [.se, .ss] : [.es, .ss]
        let usesStatic =
            ownPreMessage.contains(.s) || ownTokens.contains(.s)
            || pattern.messages.joined().contains(where: ownStaticDH.contains)
        let knowsPeerStatic = peerPreMessage.contains(.s)

        guard usesStatic || staticKey == nil else { throw .unusedKey }
        guard knowsPeerStatic || remoteStaticKey == nil else { throw .unusedKey }
        guard !usesStatic || staticKey != nil else { throw .missingKey }
        guard !knowsPeerStatic || remoteStaticKey != nil else { throw .missingKey }
        // An ephemeral known before the handshake exists only in fallback patterns, which are not supported.
        guard !peerPreMessage.contains(.e) else { throw .missingKey }

        self.pattern = pattern
        self.role = role
        localStatic = staticKey
        self.remoteStaticKey = remoteStaticKey
        localEphemeral =
            ownTokens.contains(.e) || ownPreMessage.contains(.e)
            ? X25519.PrivateKey(using: &ephemeralSource) : nil

        var symmetric = SymmetricState(protocolName: NoiseProtocolName(pattern: pattern).description)
        symmetric.mixHash(prologue)
        for (owner, tokens) in [(NoiseRole.initiator, pattern.initiatorPreMessage), (.responder, pattern.responderPreMessage)] {
            for token in tokens {
                let ownKey = token == .e ? localEphemeral : localStatic
                let key = owner == role ? ownKey?.publicKey : remoteStaticKey
                if let key {
                    symmetric.mixHash(key.rawRepresentation)
                }
            }
        }
        self.symmetric = symmetric
    }

    /// Every token in the messages `role` sends.
    private static func tokensWritten(by role: NoiseRole, in pattern: NoisePattern) -> [NoisePattern.Token] {
        pattern.messages.enumerated().flatMap { index, tokens in
            index.isMultiple(of: 2) == (role == .initiator) ? tokens : []
        }
    }

    /// `true` once every handshake message has been written or read; then ``split()`` is the next call.
    public var isComplete: Bool { messageIndex == pattern.messages.count }

    /// `true` if the next call is ``writeMessage(payload:)``, `false` if it is ``readMessage(_:)`` (or the
    /// handshake is complete or has failed).
    public var isMyTurnToWrite: Bool {
        !hasFailed && !isComplete && messageIndex.isMultiple(of: 2) == (role == .initiator)
    }

    /// The handshake hash `h` (64 bytes). After the last message both parties hold the same value, which
    /// identifies the session and may be signed to bind other credentials to it (channel binding).
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    /// Writes the next handshake message (`WriteMessage`, §5.3), carrying `payload`.
    ///
    /// The payload is encrypted once a key has been established; before that (XX and NN message 0) it is sent
    /// in the clear, though still bound into the handshake hash, so put nothing confidential there.
    ///
    /// - Returns: The message, at most ``maxMessageLength`` bytes.
    /// - Throws: ``NoiseError/outOfOrder`` if it is not this party's turn (nothing changes);
    ///   ``NoiseError/messageTooLarge`` if the message would exceed ``maxMessageLength`` bytes (nothing changes;
    ///   retry with a smaller payload); ``NoiseError/weakKey`` if a peer public key is a low-order point (the
    ///   handshake is aborted); ``NoiseError/handshakeFailed`` if the handshake was aborted before.
    public mutating func writeMessage(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !hasFailed else { throw .handshakeFailed }
        guard isMyTurnToWrite else { throw .outOfOrder }
        let tokens = pattern.messages[messageIndex]
        guard Self.messageLength(tokens: tokens, payloadCount: payload.count, hasKey: symmetric.cipher.hasKey)
            <= Self.maxMessageLength
        else { throw .messageTooLarge }

        var next = symmetric
        var message = [UInt8]()
        do throws(NoiseError) {
            for token in tokens {
                switch token {
                case .e:
                    guard let ephemeral = localEphemeral else { throw .missingKey }
                    message += ephemeral.publicKey.rawRepresentation
                    next.mixHash(ephemeral.publicKey.rawRepresentation)
                case .s:
                    guard let staticKey = localStatic else { throw .missingKey }
                    message += try next.encryptAndHash(SecureBytes(copying: staticKey.publicKey.rawRepresentation))
                case .ee, .es, .se, .ss:
                    next.mixKey(try diffieHellman(token, remoteStatic: remoteStaticKey, remoteEphemeral: remoteEphemeral))
                }
            }
            message += try next.encryptAndHash(SecureBytes(copying: payload))
        } catch {
            hasFailed = true
            throw error
        }
        symmetric = next
        messageIndex += 1
        return message
    }

    /// Reads the peer's next handshake message (`ReadMessage`, §5.3) and returns its payload.
    ///
    /// Any failure aborts the handshake: the error names the cause and every later call throws
    /// ``NoiseError/handshakeFailed``.
    ///
    /// - Throws: ``NoiseError/outOfOrder`` if it is this party's turn to write, or the handshake is complete;
    ///   ``NoiseError/messageTooLarge`` if `message` exceeds ``maxMessageLength`` bytes;
    ///   ``NoiseError/truncated`` if it is too short for its tokens or tag; ``NoiseError/decryptionFailed`` if a
    ///   tag does not verify (corruption, forgery, a different prologue, or for IK a responder static key other
    ///   than the initiator expected); ``NoiseError/weakKey`` if a received public key is a low-order point;
    ///   ``NoiseError/handshakeFailed`` if the handshake was aborted before.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !hasFailed else { throw .handshakeFailed }
        do throws(NoiseError) {
            guard !isComplete, !isMyTurnToWrite else { throw .outOfOrder }
            guard message.count <= Self.maxMessageLength else { throw .messageTooLarge }
            var next = symmetric
            var remoteStatic = remoteStaticKey
            var remoteEphemeral = remoteEphemeral
            var offset = 0
            for token in pattern.messages[messageIndex] {
                switch token {
                case .e:
                    let bytes = try Self.take(X25519.keyByteCount, from: message, at: &offset)
                    remoteEphemeral = try Self.publicKey(bytes)
                    next.mixHash(bytes)
                case .s:
                    let count = X25519.keyByteCount + (next.cipher.hasKey ? ChaChaPoly.tagByteCount : 0)
                    let bytes = try Self.take(count, from: message, at: &offset)
                    remoteStatic = try Self.publicKey(next.decryptAndHash(bytes).unsafeCopyToArray())
                case .ee, .es, .se, .ss:
                    next.mixKey(try diffieHellman(token, remoteStatic: remoteStatic, remoteEphemeral: remoteEphemeral))
                }
            }
            let rest = Array(message[offset...])
            guard !next.cipher.hasKey || rest.count >= ChaChaPoly.tagByteCount else { throw .truncated }
            let payload = try next.decryptAndHash(rest).unsafeCopyToArray()
            symmetric = next
            remoteStaticKey = remoteStatic
            self.remoteEphemeral = remoteEphemeral
            messageIndex += 1
            return payload
        } catch {
            hasFailed = true
            throw error
        }
    }

    /// Ends the handshake (`Split`, §5.2) and returns the transport: for the initiator, `c1` sends and `c2`
    /// receives; for the responder, the reverse. Consumes the handshake, as Noise says to delete it.
    ///
    /// - Throws: ``NoiseError/outOfOrder`` if the handshake is not complete; ``NoiseError/handshakeFailed`` if
    ///   it was aborted. Either way the handshake is consumed.
    public consuming func split() throws(NoiseError) -> NoiseTransport {
        guard !hasFailed else { throw .handshakeFailed }
        guard isComplete else { throw .outOfOrder }
        let (initiatorToResponder, responderToInitiator) = symmetric.split()
        return NoiseTransport(
            role: role,
            sender: role == .initiator ? initiatorToResponder : responderToInitiator,
            receiver: role == .initiator ? responderToInitiator : initiatorToResponder,
            handshakeHash: symmetric.handshakeHash,
            remoteStaticKey: remoteStaticKey)
    }

    /// The Diffie–Hellman output a DH token calls for (§5.3): `ee` is DH(e, re); `es` is DH(e, rs) for the
    /// initiator and DH(s, re) for the responder; `se` the mirror image; `ss` is DH(s, rs).
    ///
    /// - Throws: ``NoiseError/missingKey`` if a key is absent (impossible for a valid pattern after `init`);
    ///   ``NoiseError/weakKey`` if the result is all zeros (a low-order peer key).
    private func diffieHellman(
        _ token: NoisePattern.Token, remoteStatic: X25519.PublicKey?, remoteEphemeral: X25519.PublicKey?
    ) throws(NoiseError) -> SharedSecret {
        let isInitiator = role == .initiator
        let pair: (X25519.PrivateKey?, X25519.PublicKey?)
        switch token {
        case .ee: pair = (localEphemeral, remoteEphemeral)
        case .es: pair = isInitiator ? (localEphemeral, remoteStatic) : (localStatic, remoteEphemeral)
        case .se: pair = isInitiator ? (localStatic, remoteEphemeral) : (localEphemeral, remoteStatic)
        case .ss: pair = (localStatic, remoteStatic)
        case .e, .s: preconditionFailure("not a Diffie–Hellman token")
        }
        guard let privateKey = pair.0, let publicKey = pair.1 else { throw .missingKey }
        do {
            return try privateKey.sharedSecret(with: publicKey)
        } catch {
            throw .weakKey
        }
    }

    /// The exact length of a message with `tokens` and a `payloadCount`-byte payload, given whether a key is
    /// already established when it starts.
    static func messageLength(tokens: [NoisePattern.Token], payloadCount: Int, hasKey: Bool) -> Int {
        var hasKey = hasKey
        var length = 0
        for token in tokens {
            switch token {
            case .e: length += X25519.keyByteCount
            case .s: length += X25519.keyByteCount + (hasKey ? ChaChaPoly.tagByteCount : 0)
            case .ee, .es, .se, .ss: hasKey = true
            }
        }
        return length + payloadCount + (hasKey ? ChaChaPoly.tagByteCount : 0)
    }

    /// The next `count` bytes of `message` from `offset`, which advances.
    ///
    /// - Throws: ``NoiseError/truncated`` if fewer remain.
    private static func take(_ count: Int, from message: [UInt8], at offset: inout Int) throws(NoiseError) -> [UInt8] {
        guard message.count - offset >= count else { throw .truncated }
        defer { offset += count }
        return Array(message[offset..<offset + count])
    }

    /// A public key from 32 bytes taken from a message.
    private static func publicKey(_ bytes: [UInt8]) throws(NoiseError) -> X25519.PublicKey {
        do {
            return try X25519.PublicKey(rawRepresentation: bytes)
        } catch {
            throw .truncated
        }
    }
}
