import SecAggMath
import SecAggWire

/// The phases of a round, in order (SPEC §8).
public enum RoundPhase: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case advertiseKeys = 0
    case shareKeys = 1
    case maskedInputCollection = 2
    case consistencyCheck = 3
    case unmasking = 4

    /// The phase's name as the spec and the reports spell it.
    public var description: String {
        switch self {
        case .advertiseKeys: return "advertise"
        case .shareKeys: return "share"
        case .maskedInputCollection: return "masked"
        case .consistencyCheck: return "consistency"
        case .unmasking: return "unmask"
        }
    }
}

/// Abort codes carried on the wire in ``RoundOutcome`` and ``ClientAbort`` (SPEC §9.1).
public enum AbortCode: UInt16, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Fewer clients than the round's minimum finished the advertise phase.
    case tooFewAdvertised = 0x0101
    /// Fewer clients than the minimum sent their shares.
    case tooFewShared = 0x0102
    /// Fewer clients than the minimum sent masked inputs.
    case tooFewMaskedInputs = 0x0103
    /// Fewer clients than the minimum signed the survivor set.
    case tooFewConsistencySignatures = 0x0104
    /// Fewer clients than the threshold answered the unmasking request.
    case tooFewUnmaskResponses = 0x0105
    /// A secret needed to unmask the sum could not be reconstructed from the shares received.
    case reconstructionFailed = 0x0201
    /// A client refused the round parameters (or its input does not fit them).
    case parametersRejected = 0x0202
    /// A client has fewer neighbours holding its shares than the threshold.
    case tooFewNeighbours = 0x0203
    /// A client found the coordinator deviating from the protocol.
    case coordinatorMisbehaved = 0x0204
    /// The signed survivor sets do not agree (active mode).
    case consistencyCheckFailed = 0x0205
    /// The operator or the caller cancelled the round.
    case cancelled = 0x0206
    /// The task's privacy budget cannot pay for another release; the round was refused before it started.
    case budgetExhausted = 0x0207

    /// The code's name as SPEC §9.1 spells it, e.g. `budgetExhausted`.
    public var name: String {
        switch self {
        case .tooFewAdvertised: return "tooFewAdvertised"
        case .tooFewShared: return "tooFewShared"
        case .tooFewMaskedInputs: return "tooFewMaskedInputs"
        case .tooFewConsistencySignatures: return "tooFewConsistencySignatures"
        case .tooFewUnmaskResponses: return "tooFewUnmaskResponses"
        case .reconstructionFailed: return "reconstructionFailed"
        case .parametersRejected: return "parametersRejected"
        case .tooFewNeighbours: return "tooFewNeighbours"
        case .coordinatorMisbehaved: return "coordinatorMisbehaved"
        case .consistencyCheckFailed: return "consistencyCheckFailed"
        case .cancelled: return "cancelled"
        case .budgetExhausted: return "budgetExhausted"
        }
    }

    /// The code as four hex digits, e.g. `0x0207`.
    public var hex: String { Self.hex(rawValue) }

    /// Any 16-bit code as four hex digits (codes a peer sends need not be spec'd ones).
    public static func hex(_ code: UInt16) -> String {
        let digits = String(code, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// How any 16-bit code reads in a report: a spec'd one by name and hex, another by hex alone.
    public static func rendering(_ code: UInt16) -> String {
        AbortCode(rawValue: code).map(\.description) ?? "unknown code \(hex(code))"
    }

    /// The one rendering every log, file and report uses: `budgetExhausted (0x0207)`.
    public var description: String { "\(name) (\(hex))" }

    /// The phase whose minimum a `tooFew…` code reports, if it is one.
    public static func tooFew(in phase: RoundPhase) -> AbortCode {
        switch phase {
        case .advertiseKeys: return .tooFewAdvertised
        case .shareKeys: return .tooFewShared
        case .maskedInputCollection: return .tooFewMaskedInputs
        case .consistencyCheck: return .tooFewConsistencySignatures
        case .unmasking: return .tooFewUnmaskResponses
        }
    }
}

/// Why a round ended without a result: a spec'd code plus a human-readable detail (no secrets, no vectors).
public struct AbortReason: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: AbortCode
    public var detail: String

    public init(_ code: AbortCode, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}

/// A protocol violation by the *peer*: a client, as the coordinator sees it, or the coordinator, as a client
/// sees it. The input was rejected and the state machine is unchanged; the caller should drop that peer.
public enum ProtocolViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not a valid message.
    case malformed(WireError)
    /// The message names another round.
    case wrongRound(expected: RoundID, actual: RoundID)
    /// The message is not accepted in the current phase (out of order, or after the round ended).
    case unexpectedMessage(message: String, state: String)
    /// The sender already sent this phase's message.
    case duplicateMessage(phase: RoundPhase)
    /// The sender is not a participant of the current phase.
    case notAParticipant(ParticipantIndex)
    /// A signature (advertisement, endorsement or consistency) does not verify.
    case badSignature(signer: ParticipantIndex, what: String)
    /// A public key is malformed or weak.
    case invalidKey(owner: ParticipantIndex, what: String)
    /// A share or share bundle is malformed, misaddressed, or fails authentication.
    case invalidShare(owner: ParticipantIndex, holder: ParticipantIndex, reason: String)
    /// A masked vector has the wrong length or a lane outside Z_{2^bits}.
    case invalidVector(reason: String)
    /// Survivor sets, recipients or advertisements that contradict what the receiver knows.
    case inconsistentView(reason: String)
    /// A message announced larger than the current phase allows (SPEC §2.6.5), refused before it was read.
    case oversizedMessage(announced: Int, allowed: Int)

    public var description: String {
        switch self {
        case let .malformed(error): return "malformed message: \(error)"
        case let .wrongRound(expected, actual): return "message for round \(actual), expected \(expected)"
        case let .unexpectedMessage(message, state): return "unexpected \(message) in state \(state)"
        case let .duplicateMessage(phase): return "duplicate message in phase \(phase)"
        case let .notAParticipant(index): return "participant \(index) is not part of this phase"
        case let .badSignature(signer, what): return "bad \(what) signature from participant \(signer)"
        case let .invalidKey(owner, what): return "invalid \(what) key of participant \(owner)"
        case let .invalidShare(owner, holder, reason):
            return "invalid share of participant \(owner) held by \(holder): \(reason)"
        case let .invalidVector(reason): return "invalid masked vector: \(reason)"
        case let .inconsistentView(reason): return "inconsistent view: \(reason)"
        case let .oversizedMessage(announced, allowed):
            return "oversized message: \(announced) bytes announced, the phase allows \(allowed)"
        }
    }
}

/// A mistake by the local caller (not the peer): wrong input for the round, or a call in the wrong state.
public enum UsageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The round parameters fail validation (SPEC §5.2).
    case invalidParameters(ParameterValidationError)
    /// The roster does not match the parameters (count, indices or keys).
    case invalidRoster(String)
    /// Central noise was asked for without a random source to draw it from.
    case missingNoiseSource
    /// A call that needs a round in progress came after the round ended.
    case roundFinished
    /// An index that is not on the roster was given.
    case unknownParticipant(ParticipantIndex)

    public var description: String {
        switch self {
        case let .invalidParameters(error): return error.description
        case let .invalidRoster(reason): return "invalid roster: \(reason)"
        case .missingNoiseSource: return "central noise needs a random source in the coordinator configuration"
        case .roundFinished: return "the round has already finished"
        case let .unknownParticipant(index): return "participant \(index) is not on the roster"
        }
    }
}
