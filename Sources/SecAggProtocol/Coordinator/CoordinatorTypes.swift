import SecAggCrypto
import SecAggMath
import SecAggWire

/// A point in time as the driver measures it (nanoseconds on any monotonic clock). The state machine never
/// reads a clock: every call that cares about time takes `now`.
public struct ProtocolInstant: Sendable, Hashable, Comparable {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The instant `duration` later (saturating).
    public func advanced(by duration: Duration) -> ProtocolInstant {
        let (seconds, attoseconds) = duration.components
        let nanos = max(0, seconds) &* 1_000_000_000 &+ max(0, attoseconds / 1_000_000_000)
        let (sum, overflow) = nanoseconds.addingReportingOverflow(UInt64(nanos))
        return ProtocolInstant(nanoseconds: overflow ? .max : sum)
    }

    public static func < (lhs: ProtocolInstant, rhs: ProtocolInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// An enrolled client invited to the round, as the coordinator knows it from enrollment and the transport.
public struct RosterEntry: Sendable, Hashable {
    public var identity: Ed25519.VerifyingKey
    /// The enrollment authority's signature over the identity, relayed to neighbours (empty if none).
    public var endorsement: [UInt8]

    public init(identity: Ed25519.VerifyingKey, endorsement: [UInt8] = []) {
        self.identity = identity
        self.endorsement = endorsement
    }
}

/// How long each phase may stay open before the driver's timeout closes it.
public struct PhaseTimeouts: Sendable, Hashable {
    public var advertiseKeys: Duration
    public var shareKeys: Duration
    public var maskedInputCollection: Duration
    public var consistencyCheck: Duration
    public var unmasking: Duration

    public init(
        advertiseKeys: Duration = .seconds(30), shareKeys: Duration = .seconds(30),
        maskedInputCollection: Duration = .seconds(60), consistencyCheck: Duration = .seconds(30),
        unmasking: Duration = .seconds(30)
    ) {
        self.advertiseKeys = advertiseKeys
        self.shareKeys = shareKeys
        self.maskedInputCollection = maskedInputCollection
        self.consistencyCheck = consistencyCheck
        self.unmasking = unmasking
    }

    /// The same timeout for every phase.
    public static func uniform(_ duration: Duration) -> PhaseTimeouts {
        PhaseTimeouts(advertiseKeys: duration, shareKeys: duration, maskedInputCollection: duration,
                      consistencyCheck: duration, unmasking: duration)
    }

    public subscript(phase: RoundPhase) -> Duration {
        switch phase {
        case .advertiseKeys: return advertiseKeys
        case .shareKeys: return shareKeys
        case .maskedInputCollection: return maskedInputCollection
        case .consistencyCheck: return consistencyCheck
        case .unmasking: return unmasking
        }
    }
}

/// Everything the coordinator needs to run one round.
public struct CoordinatorConfiguration: Sendable {
    public var parameters: RoundParameters
    /// Invited participants, indexed 1...parameters.invitedCount (every index present).
    public var roster: [ParticipantIndex: RosterEntry]
    public var timeouts: PhaseTimeouts
    /// Randomness for central DP noise, required when the parameters ask for it (production: ``SystemRandom``).
    public var noiseSource: (any RandomSource & Sendable)?
    /// Threads for unmasking (rebuilding secrets, expanding masks); the released sum does not depend on it.
    /// Defaults to the machine's processor count.
    public var unmaskingWorkers: Int

    public init(
        parameters: RoundParameters, roster: [ParticipantIndex: RosterEntry], timeouts: PhaseTimeouts = PhaseTimeouts(),
        noiseSource: (any RandomSource & Sendable)? = nil, unmaskingWorkers: Int = Parallel.processorCount
    ) {
        self.parameters = parameters
        self.roster = roster
        self.timeouts = timeouts
        self.noiseSource = noiseSource
        self.unmaskingWorkers = max(1, unmaskingWorkers)
    }
}

/// Why a participant left the round, as the coordinator records it.
public enum DropReason: Sendable, Hashable, CustomStringConvertible {
    /// The driver reported the connection gone (or a timeout passed without its message).
    case disconnected
    /// Its phase message never arrived before the phase closed.
    case silent
    /// It broke the protocol.
    case violation(ProtocolViolation)
    /// It left with an abort message.
    case aborted(code: UInt16, reason: String)
    /// It has fewer than t neighbours that shared keys, so its masks could not be removed.
    case tooFewNeighbours

    /// The reason's kind, one of five fixed words (`disconnected`, `silent`, `violation`, `aborted`,
    /// `too_few_neighbours`): a bounded label for metrics and a field for the audit log.
    public var kind: String {
        switch self {
        case .disconnected: return "disconnected"
        case .silent: return "silent"
        case .violation: return "violation"
        case .aborted: return "aborted"
        case .tooFewNeighbours: return "too_few_neighbours"
        }
    }

    public var description: String {
        switch self {
        case .disconnected: return "disconnected"
        case .silent: return "no message before the phase closed"
        case let .violation(violation): return "protocol violation: \(violation)"
        case let .aborted(code, reason): return "aborted, \(AbortCode.rendering(code)): \(reason)"
        case .tooFewNeighbours: return "too few neighbours shared keys"
        }
    }
}

extension DropReason {
    /// The notice to send the dropped client (SPEC §4.11), or nil when it left on its own (its connection is gone,
    /// or it aborted): a driver whose connection to the client is still open sends it before closing.
    public func notice(roundID: RoundID, phase: RoundPhase) -> DropNotice? {
        let cause: DropNotice.Cause
        switch self {
        case .disconnected, .aborted: return nil
        case .silent: cause = .silent
        case .violation: cause = .violation
        case .tooFewNeighbours: cause = .tooFewNeighbours
        }
        return DropNotice(roundID: roundID, phase: phase.rawValue, cause: cause, reason: description)
    }
}

/// What the coordinator state machine asks its driver to do or tells it happened.
public enum CoordinatorAction: Sendable {
    /// Send `message` to each listed participant.
    case send(CoordinatorMessage, to: [ParticipantIndex])
    /// Send each member of ``ShareKeysRequests/recipients`` its own ShareKeysRequest, built with
    /// ``ShareKeysRequests/request(for:)`` as it is sent (so that a round's requests are never all held at once).
    case sendShareKeysRequests(ShareKeysRequests)
    /// A phase opened; close it with ``CoordinatorStateMachine/advance(now:)`` once ready, or at `deadline` at the latest.
    case phaseStarted(RoundPhase, participants: Int, deadline: ProtocolInstant)
    /// A participant is out of the round from now on (the driver may close its connection).
    case participantDropped(ParticipantIndex, phase: RoundPhase, reason: DropReason)
    /// Shares from these holders did not lie on the reconstructed polynomial (they lied or were corrupted).
    case inconsistentShares(owner: ParticipantIndex, holders: [ParticipantIndex])
    /// The round released its sum.
    case completed(RoundResult)
    /// The round ended without a result.
    case aborted(AbortReason)
}

extension Sequence<CoordinatorAction> {
    /// The actions with each ``CoordinatorAction/sendShareKeysRequests(_:)`` replaced, in place, by one
    /// ``CoordinatorAction/send(_:to:)`` per recipient (every request built now): for callers that hold a round's
    /// messages anyway — tests, transcripts, small simulations.
    public func expandingRequests() -> [CoordinatorAction] {
        flatMap { action -> [CoordinatorAction] in
            guard case let .sendShareKeysRequests(requests) = action else { return [action] }
            return requests.recipients.map { .send(.shareKeysRequest(requests.request(for: $0)), to: [$0]) }
        }
    }
}

/// The result of a completed round.
public struct RoundResult: Sendable, Equatable {
    public var roundID: RoundID
    /// Σ x_u over `survivors`, exact (the parameters guarantee no wrap-around) — plus the DP noise when the
    /// parameters have noise (then read it with ``SecAggMath/ModularVector/signedValues``).
    public var sum: ModularVector
    /// U3: the participants whose inputs are in the sum.
    public var survivors: [ParticipantIndex]
    /// Participants per phase: |U1| … |U5| (consistency count equals U3's in honest-but-curious mode).
    public var phaseCounts: [RoundPhase: Int]
}

/// Progress of the open phase, for the driver's decision to advance.
public struct PhaseProgress: Sendable, Hashable {
    public var phase: RoundPhase
    /// Participants still expected to answer in this phase (connected, not dropped).
    public var expected: Int
    /// Valid messages received in this phase.
    public var received: Int
    /// Fewest messages with which closing the phase can succeed.
    public var required: Int
    /// Closing now would not abort: enough messages arrived (and, when unmasking, every secret that must be
    /// reconstructed has at least t shares).
    public var canAdvance: Bool
    /// When the phase should be closed at the latest.
    public var deadline: ProtocolInstant

    /// Every expected participant has answered: advance now.
    public var isComplete: Bool { received >= expected }
}

/// Why the coordinator state machine rejected an input; the state is unchanged.
public enum CoordinatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The participant broke the protocol: close its connection and call
    /// ``CoordinatorStateMachine/participantViolated(_:_:now:)``.
    case participantViolation(ParticipantIndex, ProtocolViolation)
    /// The caller used the state machine wrongly.
    case usage(UsageError)

    public var description: String {
        switch self {
        case let .participantViolation(index, violation): return "participant \(index): \(violation)"
        case let .usage(error): return "usage error: \(error)"
        }
    }
}
