import SecAggCrypto
import SecAggMath
import SecAggWire

/// The coordinator side of one round, sans-IO (SPEC §8.2).
///
/// Inputs: ``start(now:)``, ``handle(_:from:now:)`` for each client message, ``participantDisconnected(_:now:)``,
/// and ``advance(now:)`` / ``handleTimeout(now:)`` to close a phase. Outputs: ``CoordinatorAction`` values.
/// The machine never closes a phase by itself: after each input the driver looks at ``progress`` and calls
/// ``advance(now:)`` when ``PhaseProgress/isComplete`` or when the phase deadline passes (the driver owns time,
/// as in Google's fcp/secagg server). A rejected input throws and changes nothing.
///
/// Masked inputs are added into a running sum as they arrive, so memory is O(dimension + clients · degree).
public struct CoordinatorStateMachine: Sendable {
    enum State: Sendable {
        case created
        case advertising(CollectingAdvertisements)
        case sharing(CollectingShares)
        case collecting(CollectingMaskedInputs)
        case checking(CollectingSignatures)
        case unmasking(CollectingUnmaskResponses)
        case completed(RoundResult)
        case aborted(AbortReason)
    }

    private var state: State = .created
    private let configuration: CoordinatorConfiguration
    private let roundDigest: [UInt8]
    /// Participants still in the round (connected and not dropped).
    private var live: Set<ParticipantIndex>
    private var deadline: ProtocolInstant?
    private var phaseCounts: [RoundPhase: Int] = [:]
    private var noiseSource: (any RandomSource & Sendable)?

    /// Validates the parameters and roster and prepares the round; nothing is sent until ``start(now:)``.
    ///
    /// - Throws: ``UsageError/invalidParameters(_:)`` or ``UsageError/invalidRoster(_:)``.
    public init(configuration: CoordinatorConfiguration) throws(UsageError) {
        do {
            try configuration.parameters.validate()
        } catch {
            throw .invalidParameters(error)
        }
        let count = configuration.parameters.invitedCount
        guard configuration.roster.count == Int(count),
              (1...count).allSatisfy({ configuration.roster[$0] != nil }) else {
            throw .invalidRoster("the roster must hold exactly the indices 1...\(count)")
        }
        guard configuration.roster.values.allSatisfy({ $0.endorsement.isEmpty || $0.endorsement.count == 64 }) else {
            throw .invalidRoster("endorsements must be empty or 64 bytes")
        }
        if let invalid = configuration.roster.first(where: { !$0.value.identity.isPrimeOrderPoint }) {
            throw .invalidRoster("the identity key of participant \(invalid.key) is not a valid Ed25519 point")
        }
        if case .central = configuration.parameters.noise, configuration.noiseSource == nil {
            throw .missingNoiseSource
        }
        self.configuration = configuration
        noiseSource = configuration.noiseSource
        roundDigest = Derivation.roundDigest(configuration.parameters)
        live = Set(configuration.roster.keys)
    }

    /// The round's parameters.
    public var parameters: RoundParameters { configuration.parameters }

    /// The open phase, or nil before the start and after the end.
    public var phase: RoundPhase? {
        switch state {
        case .created, .completed, .aborted: return nil
        case .advertising: return .advertiseKeys
        case .sharing: return .shareKeys
        case .collecting: return .maskedInputCollection
        case .checking: return .consistencyCheck
        case .unmasking: return .unmasking
        }
    }

    /// True once the round completed or aborted.
    public var isFinished: Bool {
        switch state {
        case .completed, .aborted: return true
        default: return false
        }
    }

    /// The deadline of the open phase.
    public var nextDeadline: ProtocolInstant? { isFinished ? nil : deadline }

    /// Progress of the open phase, or nil when none is open.
    public var progress: PhaseProgress? {
        guard let phase, let deadline else { return nil }
        let (expected, received): (Set<ParticipantIndex>, Int)
        switch state {
        case let .advertising(s): (expected, received) = (live.subtracting(s.received.keys), s.received.count)
        case let .sharing(s): (expected, received) = (s.members.intersection(live).subtracting(s.received.keys), s.received.count)
        case let .collecting(s): (expected, received) = (s.members.intersection(live).subtracting(s.received), s.received.count)
        case let .checking(s): (expected, received) = (s.members.intersection(live).subtracting(s.signatures.keys), s.signatures.count)
        case let .unmasking(s): (expected, received) = (s.recipients.intersection(live).subtracting(s.responded), s.responded.count)
        default: return nil
        }
        let required = phase == .unmasking ? Int(configuration.parameters.threshold) : requiredSurvivors
        var canAdvance = received >= required
        if case let .unmasking(s) = state { canAdvance = canAdvance && s.hasEnoughShares }
        return PhaseProgress(
            phase: phase, expected: received + expected.count, received: received, required: required,
            canAdvance: canAdvance, deadline: deadline)
    }

    /// The released result, once completed.
    public var result: RoundResult? {
        if case let .completed(result) = state { return result }
        return nil
    }

    /// The abort reason, once aborted.
    public var abortReason: AbortReason? {
        if case let .aborted(reason) = state { return reason }
        return nil
    }

    // MARK: Inputs

    /// Opens AdvertiseKeys: invites every participant on the roster.
    ///
    /// - Throws: ``UsageError/roundFinished`` if already started.
    public mutating func start(now: ProtocolInstant) throws(UsageError) -> [CoordinatorAction] {
        guard case .created = state else { throw .roundFinished }
        state = .advertising(CollectingAdvertisements())
        var actions = open(.advertiseKeys, participants: live.count, now: now)
        for index in live.sorted() {
            actions.append(.send(
                .advertiseKeysRequest(AdvertiseKeysRequest(parameters: configuration.parameters, participant: index)),
                to: [index]))
        }
        return actions
    }

    /// Processes one message from participant `sender` (the transport authenticated who sent it).
    ///
    /// - Returns: actions (drops, and nothing else: phases close only in ``advance(now:)``).
    /// - Throws: ``CoordinatorError/participantViolation(_:_:)`` for a message the protocol does not allow
    ///   (the driver should drop the sender); ``CoordinatorError/usage(_:)`` for an unknown sender or a finished
    ///   round. The state is unchanged either way.
    public mutating func handle(
        _ message: ClientMessage, from sender: ParticipantIndex, now: ProtocolInstant
    ) throws(CoordinatorError) -> [CoordinatorAction] {
        guard configuration.roster[sender] != nil else { throw .usage(.unknownParticipant(sender)) }
        if isFinished { throw .usage(.roundFinished) }
        guard message.roundID == configuration.parameters.roundID else {
            throw .participantViolation(sender, .wrongRound(expected: configuration.parameters.roundID, actual: message.roundID))
        }
        guard live.contains(sender) else {
            throw .participantViolation(sender, .notAParticipant(sender))
        }
        if case let .abort(abort) = message {
            return drop(sender, reason: .aborted(code: abort.code, reason: abort.reason))
        }
        do throws(ProtocolViolation) {
            switch (state, message) {
            case (.advertising(var current), .advertiseKeys(let body)):
                try current.accept(body, from: sender, roster: configuration.roster, roundDigest: roundDigest)
                state = .advertising(current)
            case (.sharing(var current), .shareKeys(let body)):
                try current.accept(body, from: sender)
                state = .sharing(current)
            case (.collecting(var current), .maskedInput(let body)):
                try current.accept(body, from: sender)
                state = .collecting(current)
            case (.checking(var current), .consistencyResponse(let body)):
                try current.accept(body, from: sender, roster: configuration.roster)
                state = .checking(current)
            case (.unmasking(var current), .unmaskResponse(let body)):
                try current.accept(body, from: sender)
                state = .unmasking(current)
            default:
                throw ProtocolViolation.unexpectedMessage(message: message.typeName, state: phase.map { "\($0)" } ?? "created")
            }
        } catch {
            throw .participantViolation(sender, error)
        }
        return []
    }

    /// Records that `participant` is gone (connection closed, violation, or the driver gave up on it).
    public mutating func participantDisconnected(_ participant: ParticipantIndex, now: ProtocolInstant) -> [CoordinatorAction] {
        guard live.contains(participant), !isFinished else { return [] }
        return drop(participant, reason: .disconnected)
    }

    /// The driver dropped `participant` for breaking the protocol (a message the state machine refused, or one the
    /// transport refused before decoding it, such as an oversized announcement): it is out of the round from now
    /// on, and the drop names the violation.
    public mutating func participantViolated(
        _ participant: ParticipantIndex, _ violation: ProtocolViolation, now: ProtocolInstant
    ) -> [CoordinatorAction] {
        guard live.contains(participant), !isFinished else { return [] }
        return drop(participant, reason: .violation(violation))
    }

    /// Closes the phase at its deadline; does nothing before it.
    public mutating func handleTimeout(now: ProtocolInstant) -> [CoordinatorAction] {
        guard let deadline, now >= deadline, !isFinished, phase != nil else { return [] }
        return advance(now: now)
    }

    /// Aborts the round (operator cancel, shutdown). Connected participants are told why.
    public mutating func abort(_ reason: AbortReason) -> [CoordinatorAction] {
        guard !isFinished else { return [] }
        return finish(aborting: reason)
    }

    /// Closes the open phase now with whatever arrived, and opens the next one (or finishes the round).
    ///
    /// Participants that did not answer are dropped. If fewer than required answered, the round aborts.
    public mutating func advance(now: ProtocolInstant) -> [CoordinatorAction] {
        switch state {
        case .created, .completed, .aborted:
            return []
        case let .advertising(current):
            return closeAdvertising(current, now: now)
        case let .sharing(current):
            return closeSharing(current, now: now)
        case let .collecting(current):
            return closeCollecting(current, now: now)
        case let .checking(current):
            return closeChecking(current, now: now)
        case let .unmasking(current):
            return closeUnmasking(current)
        }
    }

    // MARK: Phase transitions

    private var requiredSurvivors: Int { Int(configuration.parameters.minimumSurvivors) }

    private mutating func open(_ phase: RoundPhase, participants: Int, now: ProtocolInstant) -> [CoordinatorAction] {
        let until = now.advanced(by: configuration.timeouts[phase])
        deadline = until
        return [.phaseStarted(phase, participants: participants, deadline: until)]
    }

    private mutating func drop(_ participant: ParticipantIndex, reason: DropReason) -> [CoordinatorAction] {
        guard live.remove(participant) != nil, let phase else { return [] }
        return [.participantDropped(participant, phase: phase, reason: reason)]
    }

    /// Drops every live participant of `members` that did not answer.
    private mutating func dropSilent(members: Set<ParticipantIndex>, answered: Set<ParticipantIndex>) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for index in members.intersection(live).subtracting(answered).sorted() {
            actions += drop(index, reason: .silent)
        }
        return actions
    }

    private mutating func finish(aborting reason: AbortReason) -> [CoordinatorAction] {
        let recipients = live.sorted()
        state = .aborted(reason)
        var actions: [CoordinatorAction] = []
        if !recipients.isEmpty {
            actions.append(.send(.roundOutcome(RoundOutcome(
                roundID: configuration.parameters.roundID,
                result: .aborted(code: reason.code.rawValue, reason: reason.detail))), to: recipients))
        }
        actions.append(.aborted(reason))
        return actions
    }

    private mutating func closeAdvertising(_ current: CollectingAdvertisements, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent(members: live, answered: Set(current.received.keys))
        let members = current.received.keys.filter { live.contains($0) }.sorted()
        phaseCounts[.advertiseKeys] = members.count
        guard members.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewAdvertised, "\(members.count) clients advertised keys, the round needs \(requiredSurvivors)"))
        }
        let advertisements = members.compactMap { current.received[$0]?.advertisement }
        let context: SessionContext
        do {
            context = try SessionContext(
                parameters: configuration.parameters, roundDigest: roundDigest, advertisements: advertisements)
        } catch {
            return actions + finish(aborting: AbortReason(.parametersRejected, "cannot build the neighbour graph: \(error)"))
        }
        let next = CollectingShares(
            context: context, members: Set(members),
            maskingKeys: current.received.mapValues(\.maskingKey).filter { members.contains($0.key) })
        state = .sharing(next)
        actions += open(.shareKeys, participants: members.count, now: now)
        actions.append(.send(
            .shareKeysRequest(ShareKeysRequest(roundID: configuration.parameters.roundID, advertisements: advertisements)),
            to: members))
        return actions
    }

    private mutating func closeSharing(_ current: CollectingShares, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent(members: current.members, answered: Set(current.received.keys))
        // U2: those who shared, pruned until each has at least t neighbours in U2 (otherwise its secrets could
        // not be reconstructed and its masks would spoil the sum).
        var sharers = Set(current.received.keys).intersection(live)
        let threshold = current.context.threshold
        var pruned: [ParticipantIndex] = []
        var changed = true
        while changed {
            changed = false
            for index in sharers.sorted() {
                let holders = current.context.graph.neighbors(of: index).filter { sharers.contains($0) }.count
                if holders < threshold {
                    sharers.remove(index)
                    pruned.append(index)
                    changed = true
                }
            }
        }
        phaseCounts[.shareKeys] = sharers.count
        // Abort before dropping the pruned clients, so that every connected client hears about the abort.
        guard sharers.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewShared, "\(sharers.count) clients shared keys with enough neighbours, the round needs \(requiredSurvivors)"))
        }
        for index in pruned {
            actions += drop(index, reason: .tooFewNeighbours)
        }
        // Route every ciphertext between two members of U2 to its recipient, sorted by sender.
        var inbox: [ParticipantIndex: [EncryptedShare]] = [:]
        for sender in sharers.sorted() {
            guard let shares = current.received[sender]?.shares else { continue }
            for share in shares where sharers.contains(share.recipient) {
                inbox[share.recipient, default: []].append(share)
            }
        }
        let parameters = configuration.parameters
        let next: CollectingMaskedInputs
        do {
            next = try CollectingMaskedInputs(
                context: current.context, members: sharers, maskingKeys: current.maskingKeys,
                commitments: current.received.mapValues(\.selfMaskCommitment).filter { sharers.contains($0.key) })
        } catch {
            return actions + finish(aborting: AbortReason(.parametersRejected, "cannot allocate the sum: \(error)"))
        }
        state = .collecting(next)
        actions += open(.maskedInputCollection, participants: sharers.count, now: now)
        for recipient in sharers.sorted() {
            actions.append(.send(
                .maskedInputRequest(MaskedInputRequest(roundID: parameters.roundID, shares: inbox[recipient] ?? [])),
                to: [recipient]))
        }
        return actions
    }

    private mutating func closeCollecting(_ current: CollectingMaskedInputs, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent(members: current.members, answered: current.received)
        // U3 is everyone whose masked input is in the running sum, even if it disconnected since.
        let survivors = current.received.sorted()
        phaseCounts[.maskedInputCollection] = survivors.count
        guard survivors.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewMaskedInputs, "\(survivors.count) masked inputs arrived, the round needs \(requiredSurvivors)"))
        }
        let roundID = configuration.parameters.roundID
        let recipients = survivors.filter { live.contains($0) }
        if configuration.parameters.mode == .active {
            state = .checking(CollectingSignatures(collected: current, survivors: survivors))
            actions += open(.consistencyCheck, participants: recipients.count, now: now)
            actions.append(.send(
                .consistencyCheckRequest(ConsistencyCheckRequest(roundID: roundID, survivors: survivors)), to: recipients))
        } else {
            phaseCounts[.consistencyCheck] = survivors.count
            state = .unmasking(CollectingUnmaskResponses(
                collected: current, survivors: survivors, recipients: Set(recipients)))
            actions += open(.unmasking, participants: recipients.count, now: now)
            actions.append(.send(
                .unmaskRequest(UnmaskRequest(roundID: roundID, survivors: survivors, signatures: [])), to: recipients))
        }
        return actions
    }

    private mutating func closeChecking(_ current: CollectingSignatures, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent(members: current.members, answered: Set(current.signatures.keys))
        let signers = current.signatures.keys.filter { live.contains($0) }.sorted()
        phaseCounts[.consistencyCheck] = signers.count
        guard signers.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewConsistencySignatures, "\(signers.count) clients signed the survivor set, the round needs \(requiredSurvivors)"))
        }
        let signatures = current.signatures.keys.sorted().compactMap { index in
            current.signatures[index].map { ConsistencySignature(index: index, signature: $0) }
        }
        state = .unmasking(CollectingUnmaskResponses(
            collected: current.collected, survivors: current.survivors, recipients: Set(signers)))
        actions += open(.unmasking, participants: signers.count, now: now)
        actions.append(.send(
            .unmaskRequest(UnmaskRequest(
                roundID: configuration.parameters.roundID, survivors: current.survivors, signatures: signatures)),
            to: signers))
        return actions
    }

    private mutating func closeUnmasking(_ current: CollectingUnmaskResponses) -> [CoordinatorAction] {
        var actions = dropSilent(members: current.recipients, answered: current.responded)
        phaseCounts[.unmasking] = current.responded.count
        let threshold = Int(configuration.parameters.threshold)
        guard current.responded.count >= threshold else {
            return actions + finish(aborting: AbortReason(
                .tooFewUnmaskResponses, "\(current.responded.count) clients answered unmasking, threshold is \(threshold)"))
        }
        switch current.reconstructSum() {
        case let .failure(reason):
            return actions + finish(aborting: reason)
        case var .success(outcome):
            // Central DP: the exact sum never leaves the state machine; only the noisy one does.
            if case let .central(variance) = configuration.parameters.noise, var source = noiseSource {
                outcome.sum.addNoise(variance: variance, using: &source)
                noiseSource = source
            }
            for (owner, holders) in outcome.inconsistentHolders.sorted(by: { $0.key < $1.key }) {
                actions.append(.inconsistentShares(owner: owner, holders: holders))
            }
            let result = RoundResult(
                roundID: configuration.parameters.roundID, sum: outcome.sum,
                survivors: current.survivors, phaseCounts: phaseCounts)
            let recipients = live.sorted()
            state = .completed(result)
            if !recipients.isEmpty {
                actions.append(.send(.roundOutcome(RoundOutcome(
                    roundID: configuration.parameters.roundID,
                    result: .completed(survivorCount: UInt32(current.survivors.count)))), to: recipients))
            }
            actions.append(.completed(result))
            return actions
        }
    }
}

extension ClientMessage {
    /// The message's name for errors and logs.
    public var typeName: String {
        switch self {
        case .advertiseKeys: return "advertiseKeys"
        case .shareKeys: return "shareKeys"
        case .maskedInput: return "maskedInput"
        case .consistencyResponse: return "consistencyResponse"
        case .unmaskResponse: return "unmaskResponse"
        case .abort: return "abort"
        }
    }
}
