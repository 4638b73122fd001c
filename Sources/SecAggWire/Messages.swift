/// The messages of one round (SPEC §4). Each travels in an envelope: `uint16 version ‖ uint8 type ‖ body`.
///
/// These are the *unverified* wire forms: decoding checks lengths, ranges and canonical ordering only.
/// Signatures, keys and shares are checked by the protocol state machines.

// MARK: Coordinator to client

/// Phase 0 (AdvertiseKeys): invites one participant, telling it the round and its index. Type 0x01.
public struct AdvertiseKeysRequest: Sendable, Hashable {
    public var parameters: RoundParameters
    /// The receiving participant's index.
    public var participant: ParticipantIndex

    public init(parameters: RoundParameters, participant: ParticipantIndex) {
        self.parameters = parameters
        self.participant = participant
    }
}

/// Phase 1 (ShareKeys): the size of U1 and the root of the advertisement tree over it, with the receiver's own
/// and its neighbours' advertisements and one Merkle proof for them (SPEC §4.4, §5.13). Type 0x02.
public struct ShareKeysRequest: Sendable, Hashable {
    public var roundID: RoundID
    /// |U1|.
    public var advertisedCount: UInt32
    /// Root of the advertisement tree (32 bytes).
    public var advertisementRoot: [UInt8]
    /// The receiver's and its neighbours' advertisements in U1, sorted by index.
    public var advertisements: [KeyAdvertisement]
    /// Multiproof of the receiver's and its neighbours' slots.
    public var proof: DigestList

    public init(
        roundID: RoundID, advertisedCount: UInt32, advertisementRoot: [UInt8], advertisements: [KeyAdvertisement],
        proof: DigestList
    ) {
        self.roundID = roundID
        self.advertisedCount = advertisedCount
        self.advertisementRoot = advertisementRoot
        self.advertisements = advertisements
        self.proof = proof
    }
}

/// Phase 2 (MaskedInputCollection): the share bundles addressed to the receiver, one per neighbour in U2,
/// sorted by sender. Type 0x03.
public struct MaskedInputRequest: Sendable, Hashable {
    public var roundID: RoundID
    public var shares: [EncryptedShare]

    public init(roundID: RoundID, shares: [EncryptedShare]) {
        self.roundID = roundID
        self.shares = shares
    }
}

/// Phase 3 (ConsistencyCheck, active mode only): the receiver's view of the survivor set U3, to sign. Type 0x04.
public struct ConsistencyCheckRequest: Sendable, Hashable {
    public var roundID: RoundID
    public var survivors: SurvivorView

    public init(roundID: RoundID, survivors: SurvivorView) {
        self.roundID = roundID
        self.survivors = survivors
    }
}

/// Phase 4 (Unmasking): the receiver's view of U3 and, in active mode, its neighbours' consistency signatures.
/// Type 0x05.
public struct UnmaskRequest: Sendable, Hashable {
    public var roundID: RoundID
    public var survivors: SurvivorView
    /// Signatures over the view's count and root by the receiver's neighbours in U4, strictly increasing by index;
    /// empty in honest-but-curious mode.
    public var signatures: [ConsistencySignature]

    public init(roundID: RoundID, survivors: SurvivorView, signatures: [ConsistencySignature]) {
        self.roundID = roundID
        self.survivors = survivors
        self.signatures = signatures
    }
}

/// The end of a round as the coordinator reports it to participants. Type 0x06.
public struct RoundOutcome: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        /// The sum was released; `survivorCount` inputs are in it.
        case completed(survivorCount: UInt32)
        /// The round aborted with an abort code (SPEC §9.1) and a human-readable reason.
        case aborted(code: UInt16, reason: String)
    }

    public var roundID: RoundID
    public var result: Result

    public init(roundID: RoundID, result: Result) {
        self.roundID = roundID
        self.result = result
    }
}

/// Any message from the coordinator to a client.
public enum CoordinatorMessage: Sendable, Hashable {
    case advertiseKeysRequest(AdvertiseKeysRequest)
    case shareKeysRequest(ShareKeysRequest)
    case maskedInputRequest(MaskedInputRequest)
    case consistencyCheckRequest(ConsistencyCheckRequest)
    case unmaskRequest(UnmaskRequest)
    case roundOutcome(RoundOutcome)

    /// The round the message belongs to.
    public var roundID: RoundID {
        switch self {
        case let .advertiseKeysRequest(message): return message.parameters.roundID
        case let .shareKeysRequest(message): return message.roundID
        case let .maskedInputRequest(message): return message.roundID
        case let .consistencyCheckRequest(message): return message.roundID
        case let .unmaskRequest(message): return message.roundID
        case let .roundOutcome(message): return message.roundID
        }
    }

    /// The envelope type byte.
    public var typeCode: UInt8 {
        switch self {
        case .advertiseKeysRequest: return 0x01
        case .shareKeysRequest: return 0x02
        case .maskedInputRequest: return 0x03
        case .consistencyCheckRequest: return 0x04
        case .unmaskRequest: return 0x05
        case .roundOutcome: return 0x06
        }
    }
}

// MARK: Client to coordinator

/// Phase 0: the client's two fresh round keys, signed with its identity key. Type 0x41.
public struct AdvertiseKeys: Sendable, Hashable {
    public var roundID: RoundID
    public var encryptionKey: [UInt8]
    public var maskingKey: [UInt8]
    public var signature: [UInt8]

    public init(roundID: RoundID, encryptionKey: [UInt8], maskingKey: [UInt8], signature: [UInt8]) {
        self.roundID = roundID
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.signature = signature
    }
}

/// Phase 1: one encrypted share bundle per neighbour in U1 (sorted by recipient) and a commitment to the
/// self-mask seed that lets the coordinator check its reconstruction. Type 0x42.
public struct ShareKeys: Sendable, Hashable {
    public var roundID: RoundID
    public var selfMaskCommitment: [UInt8]
    public var shares: [EncryptedShare]

    public init(roundID: RoundID, selfMaskCommitment: [UInt8], shares: [EncryptedShare]) {
        self.roundID = roundID
        self.selfMaskCommitment = selfMaskCommitment
        self.shares = shares
    }
}

/// Phase 2: the masked input y_u, lanes little-endian (4 bytes each for bits ≤ 32, else 8). Type 0x43.
public struct MaskedInput: Sendable, Hashable {
    public var roundID: RoundID
    public var vector: [UInt8]

    public init(roundID: RoundID, vector: [UInt8]) {
        self.roundID = roundID
        self.vector = vector
    }
}

/// Phase 3 (active mode): the client's signature over the survivor set. Type 0x44.
public struct ConsistencyResponse: Sendable, Hashable {
    public var roundID: RoundID
    public var signature: [UInt8]

    public init(roundID: RoundID, signature: [UInt8]) {
        self.roundID = roundID
        self.signature = signature
    }
}

/// Phase 4: the shares the client reveals, strictly increasing by owner, one per neighbour. Type 0x45.
public struct UnmaskResponse: Sendable, Hashable {
    public var roundID: RoundID
    public var shares: [RevealedShare]

    public init(roundID: RoundID, shares: [RevealedShare]) {
        self.roundID = roundID
        self.shares = shares
    }
}

/// A client leaving the round on purpose, with an abort code (SPEC §9.1). Type 0x46.
public struct ClientAbort: Sendable, Hashable {
    public var roundID: RoundID
    public var code: UInt16
    public var reason: String

    public init(roundID: RoundID, code: UInt16, reason: String) {
        self.roundID = roundID
        self.code = code
        self.reason = reason
    }
}

/// Any message from a client to the coordinator.
public enum ClientMessage: Sendable, Hashable {
    case advertiseKeys(AdvertiseKeys)
    case shareKeys(ShareKeys)
    case maskedInput(MaskedInput)
    case consistencyResponse(ConsistencyResponse)
    case unmaskResponse(UnmaskResponse)
    case abort(ClientAbort)

    /// The round the message belongs to.
    public var roundID: RoundID {
        switch self {
        case let .advertiseKeys(message): return message.roundID
        case let .shareKeys(message): return message.roundID
        case let .maskedInput(message): return message.roundID
        case let .consistencyResponse(message): return message.roundID
        case let .unmaskResponse(message): return message.roundID
        case let .abort(message): return message.roundID
        }
    }

    /// The envelope type byte.
    public var typeCode: UInt8 {
        switch self {
        case .advertiseKeys: return 0x41
        case .shareKeys: return 0x42
        case .maskedInput: return 0x43
        case .consistencyResponse: return 0x44
        case .unmaskResponse: return 0x45
        case .abort: return 0x46
        }
    }
}
