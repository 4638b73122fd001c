import Foundation
import SecAggProtocol
import SecAggWire

/// How a round ended, as the coordinator records it in memory (the scheduler's history, the audit log, the
/// metrics); its published form is ``PublishedResult``.
public struct RoundRecord: Sendable {
    public var task: String
    public var roundID: RoundID
    public var parameters: RoundParameters
    /// The released sum (entries in order, residues modulo 2^bits), or nil if the round aborted.
    public var sum: [UInt64]?
    public var survivors: [ParticipantIndex]
    /// Identities of the survivors (hex), in the order of `survivors`.
    public var survivorIdentities: [String]
    public var abortReason: AbortReason?
    public var phaseSeconds: [RoundPhase: Double]
    public var phaseCounts: [RoundPhase: Int]
    public var droppedPerPhase: [RoundPhase: Int]
    public var wallSeconds: Double
    /// Application bytes the coordinator sent to and received from all participants.
    public var bytesSent: Int = 0
    public var bytesReceived: Int = 0
    /// The phase open when the round aborted (nil if it completed or never started).
    public var abortPhase: RoundPhase?
    /// How the task's clients encoded real vectors, if they did (the published result decodes the sum with it).
    public var encoder: RealVectorEncoding?
    /// The root's global round the round was started for (protocol/FEDERATION.md), if any.
    public var globalRound: GlobalRoundID?
    /// Rebuilt from the store at a start after a crash, rather than recorded as the round ended (timings and
    /// byte counts may then be partial).
    public var recovered = false
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
