import SecAggProtocol
import SecAggWire

/// Where a round records itself, at fixed points and always before the messages that let clients act on what is
/// recorded: its start before the first request, each phase before its requests, the released sum before the
/// outcome, and its end (published: store, result file, ledger export, audit record) before the outcome goes out.
/// ``TaskRecorder`` is the coordinator's journal; a failing call makes the round abort rather than tell the clients
/// anything the record does not have.
protocol RoundJournal: Sendable {
    /// Records that the round was started for a root's global round, before its privacy charge and its start.
    func boundToGlobalRound(_ globalRound: GlobalRoundID, roundID: RoundID) throws
    /// Records that the round starts with `identities` (index i + 1 is `identities[i]`) and the real-vector encoder
    /// its clients use (if any), before any request.
    func roundStarting(parameters: RoundParameters, identities: [String], encoder: RealVectorEncoding?) throws
    /// Records that `phase` opened with `participants` clients; called before the phase's requests are sent.
    func phaseStarted(roundID: RoundID, phase: RoundPhase, participants: Int) throws
    /// Commits a completed round's released sum; called before the outcome is sent.
    func releasing(_ record: RoundRecord) throws
    /// Records how the round ended and publishes it (final row and ledger settlement in the store, result file,
    /// ledger export, audit record), once, before the outcome is sent; what fails to publish is left for the next
    /// start to repair (``CoordinatorStore/unpublishedRounds()``).
    func finished(_ record: RoundRecord)
}

/// What a round asks its scheduler before it starts when its task has differential privacy: the noise to use
/// (the budget already charged), or why the round may not run (an exhausted budget).
typealias PrivacyAdmission = @Sendable (_ roundID: RoundID, _ minimumSurvivors: Int, _ clients: Int) async
    -> Result<NoiseParameters, AbortReason>
