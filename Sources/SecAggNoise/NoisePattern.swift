/// A Noise handshake pattern (Noise revision 34, §7) as data: the pre-messages and the message token lists.
///
/// The handshake engine in ``NoiseHandshake`` interprets the tokens generically, so a pattern is nothing but
/// these lists. The supported patterns are the presets ``xx``, ``ik`` and ``nn``; the initialiser is not public
/// because the engine relies on the validity rules of §7.3 holding for every pattern it runs.
public struct NoisePattern: Sendable, Hashable, CustomStringConvertible {
    /// A token of a handshake pattern (§7.1).
    public enum Token: Sendable, Hashable {
        /// The sender's ephemeral public key.
        case e
        /// The sender's static public key (encrypted once a key is established).
        case s
        /// Diffie–Hellman between the initiator's and the responder's ephemeral keys.
        case ee
        /// Diffie–Hellman between the initiator's ephemeral key and the responder's static key.
        case es
        /// Diffie–Hellman between the initiator's static key and the responder's ephemeral key.
        case se
        /// Diffie–Hellman between both static keys.
        case ss
    }

    /// The pattern's name as it appears in a protocol name, e.g. `"XX"`.
    public let name: String

    /// Public keys the responder knows of the initiator before the handshake (`-> s` above the `...`).
    public let initiatorPreMessage: [Token]

    /// Public keys the initiator knows of the responder before the handshake (`<- s` above the `...`).
    public let responderPreMessage: [Token]

    /// The handshake messages in order; message `i` is sent by the initiator when `i` is even.
    public let messages: [[Token]]

    init(name: String, initiatorPreMessage: [Token] = [], responderPreMessage: [Token] = [], messages: [[Token]]) {
        self.name = name
        self.initiatorPreMessage = initiatorPreMessage
        self.responderPreMessage = responderPreMessage
        self.messages = messages
    }

    /// `XX`: mutual authentication, both static keys transmitted encrypted; the pattern secagg uses on TCP.
    ///
    ///     -> e
    ///     <- e, ee, s, es
    ///     -> s, se
    public static let xx = NoisePattern(name: "XX", messages: [[.e], [.e, .ee, .s, .es], [.s, .se]])

    /// `IK`: the initiator knows the responder's static key in advance and sends its own in the first message.
    ///
    ///     <- s
    ///     ...
    ///     -> e, es, s, ss
    ///     <- e, ee, se
    public static let ik = NoisePattern(
        name: "IK", responderPreMessage: [.s], messages: [[.e, .es, .s, .ss], [.e, .ee, .se]])

    /// `NN`: no static keys, unauthenticated (ephemeral–ephemeral only).
    ///
    ///     -> e
    ///     <- e, ee
    public static let nn = NoisePattern(name: "NN", messages: [[.e], [.e, .ee]])

    /// All supported patterns.
    public static let all: [NoisePattern] = [.xx, .ik, .nn]

    /// The pattern's name, e.g. `"XX"`.
    public var description: String { name }
}

/// Which side of the handshake a party plays.
public enum NoiseRole: Sendable, Hashable {
    /// Sends the first handshake message.
    case initiator
    /// Receives the first handshake message.
    case responder
}

/// A full Noise protocol name (§8): the pattern with secagg's fixed suite of 25519, ChaChaPoly and BLAKE2b.
///
/// Its UTF-8 bytes initialise the handshake hash, so both sides must agree on it exactly; for secagg's TCP
/// transport it is `Noise_XX_25519_ChaChaPoly_BLAKE2b` (``xx``).
public struct NoiseProtocolName: Sendable, Hashable, CustomStringConvertible {
    /// The DH, cipher and hash names, in protocol-name order.
    public static let suffix = "_25519_ChaChaPoly_BLAKE2b"

    /// The handshake pattern.
    public let pattern: NoisePattern

    /// Names `pattern` with the fixed suite.
    public init(pattern: NoisePattern) {
        self.pattern = pattern
    }

    /// Parses a protocol name such as `"Noise_IK_25519_ChaChaPoly_BLAKE2b"`.
    ///
    /// - Returns: `nil` unless the name is exactly `Noise_<pattern>_25519_ChaChaPoly_BLAKE2b` for one of
    ///   ``NoisePattern/all`` (other suites and pattern modifiers such as `psk0` are not supported).
    public init?(_ name: String) {
        guard let pattern = NoisePattern.all.first(where: { NoiseProtocolName(pattern: $0).description == name })
        else { return nil }
        self.pattern = pattern
    }

    /// `Noise_XX_25519_ChaChaPoly_BLAKE2b`.
    public static let xx = NoiseProtocolName(pattern: .xx)

    /// The name, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2b`.
    public var description: String { "Noise_" + pattern.name + NoiseProtocolName.suffix }
}
