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
    /// Members of the open phase that are live and have not answered yet; kept up to date on every input so that
    /// ``progress`` is O(1) (the driver reads it after each message).
    private var awaiting: Set<ParticipantIndex> = []
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
        let received: Int
        switch state {
        case let .advertising(s): received = s.received.count
        case let .sharing(s): received = s.received.count
        case let .collecting(s): received = s.received.count
        case let .checking(s): received = s.signatures.count
        case let .unmasking(s): received = s.responded.count
        default: return nil
        }
        let required = phase == .unmasking ? Int(configuration.parameters.threshold) : requiredSurvivors
        var canAdvance = received >= required
        if case let .unmasking(s) = state { canAdvance = canAdvance && s.hasEnoughShares }
        return PhaseProgress(
            phase: phase, expected: received + awaiting.count, received: received, required: required,
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
        var actions = open(.advertiseKeys, members: live, now: now)
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
            try accept(message, from: sender)
        } catch {
            throw .participantViolation(sender, error)
        }
        awaiting.remove(sender)
        return []
    }

    /// Hands `message` to the open phase's state. The state is taken out of `self.state` while it changes, so that
    /// its collections are uniquely referenced and grow in place (a copy of the running sum or of every received
    /// message per input would make a phase O(N²)); a throwing `accept` leaves it as it was and it is put back.
    private mutating func accept(_ message: ClientMessage, from sender: ParticipantIndex) throws(ProtocolViolation) {
        let roster = configuration.roster
        // `switch state` (not a tuple with it, whose copy would keep a second reference alive) so that resetting
        // `state` leaves `current` the only owner.
        switch state {
        case var .advertising(current):
            guard case let .advertiseKeys(body) = message else { break }
            state = .created
            defer { state = .advertising(current) }
            try current.accept(body, from: sender, roster: roster, roundDigest: roundDigest)
            return
        case var .sharing(current):
            guard case let .shareKeys(body) = message else { break }
            state = .created
            defer { state = .sharing(current) }
            try current.accept(body, from: sender)
            return
        case var .collecting(current):
            guard case let .maskedInput(body) = message else { break }
            state = .created
            defer { state = .collecting(current) }
            try current.accept(body, from: sender)
            return
        case var .checking(current):
            guard case let .consistencyResponse(body) = message else { break }
            state = .created
            defer { state = .checking(current) }
            try current.accept(body, from: sender, roster: roster)
            return
        case var .unmasking(current):
            guard case let .unmaskResponse(body) = message else { break }
            state = .created
            defer { state = .unmasking(current) }
            try current.accept(body, from: sender)
            return
        case .created, .completed, .aborted:
            break
        }
        throw ProtocolViolation.unexpectedMessage(message: message.typeName, state: phase.map { "\($0)" } ?? "created")
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

    /// Opens `phase` for `members` (those of them still live are awaited) with the phase's timeout.
    private mutating func open(
        _ phase: RoundPhase, members: some Sequence<ParticipantIndex>, now: ProtocolInstant
    ) -> [CoordinatorAction] {
        let until = now.advanced(by: configuration.timeouts[phase])
        deadline = until
        awaiting = Set(members).intersection(live)
        return [.phaseStarted(phase, participants: awaiting.count, deadline: until)]
    }

    private mutating func drop(_ participant: ParticipantIndex, reason: DropReason) -> [CoordinatorAction] {
        guard live.remove(participant) != nil, let phase else { return [] }
        awaiting.remove(participant)
        return [.participantDropped(participant, phase: phase, reason: reason)]
    }

    /// Drops every live member of the open phase that did not answer.
    private mutating func dropSilent() -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for index in awaiting.sorted() {
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
        var actions = dropSilent()
        let members = current.received.keys.filter { live.contains($0) }.sorted()
        phaseCounts[.advertiseKeys] = members.count
        guard members.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewAdvertised, "\(members.count) clients advertised keys, the round needs \(requiredSurvivors)"))
        }
        let advertisements = members.compactMap { current.received[$0]?.advertisement }
        let parameters = configuration.parameters
        let context: SessionContext
        let tree: AdvertisementTree
        do {
            tree = try AdvertisementTree(invitedCount: Int(parameters.invitedCount), advertisements: advertisements)
            context = try SessionContext(
                parameters: parameters, roundDigest: roundDigest, advertisedCount: tree.advertisedCount,
                advertisementRoot: tree.root)
        } catch {
            return actions + finish(aborting: AbortReason(.parametersRejected, "cannot build the neighbour graph: \(error)"))
        }
        let next = CollectingShares(
            context: context, members: Set(members),
            maskingKeys: current.received.mapValues(\.maskingKey).filter { members.contains($0.key) })
        state = .sharing(next)
        actions += open(.shareKeys, members: members, now: now)
        // Each member gets only its neighbourhood of U1, proven against the root (SPEC §4.4).
        actions.append(.sendShareKeysRequests(tree.requests(for: members, graph: context.graph, roundID: parameters.roundID)))
        return actions
    }

    private mutating func closeSharing(_ current: CollectingShares, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent()
        // U2: those who shared, pruned until each has at least t neighbours in U2 (otherwise its secrets could
        // not be reconstructed and its masks would spoil the sum).
        var sharers = Set(current.received.keys).intersection(live)
        let pruned = Self.prune(&sharers, graph: current.context.graph, threshold: current.context.threshold)
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
        actions += open(.maskedInputCollection, members: sharers, now: now)
        for recipient in sharers.sorted() {
            actions.append(.send(
                .maskedInputRequest(MaskedInputRequest(roundID: parameters.roundID, shares: inbox[recipient] ?? [])),
                to: [recipient]))
        }
        return actions
    }

    private mutating func closeCollecting(_ current: CollectingMaskedInputs, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent()
        // U3 is everyone whose masked input is in the running sum, even if it disconnected since.
        let survivors = current.received.sorted()
        phaseCounts[.maskedInputCollection] = survivors.count
        guard survivors.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewMaskedInputs, "\(survivors.count) masked inputs arrived, the round needs \(requiredSurvivors)"))
        }
        let roundID = configuration.parameters.roundID
        let recipients = survivors.filter { live.contains($0) }
        // Each recipient gets its own view of U3: its and its neighbours' statuses under one root (SPEC §4.1.9).
        let tree = SurvivorTree(graph: current.context.graph, survivors: current.received)
        if configuration.parameters.mode == .active {
            state = .checking(CollectingSignatures(collected: current, survivors: survivors, tree: tree))
            actions += open(.consistencyCheck, members: recipients, now: now)
            for recipient in recipients {
                actions.append(.send(
                    .consistencyCheckRequest(ConsistencyCheckRequest(roundID: roundID, survivors: tree.view(for: recipient))),
                    to: [recipient]))
            }
        } else {
            phaseCounts[.consistencyCheck] = survivors.count
            state = .unmasking(CollectingUnmaskResponses(
                collected: current, survivors: survivors, recipients: Set(recipients)))
            actions += open(.unmasking, members: recipients, now: now)
            for recipient in recipients {
                actions.append(.send(
                    .unmaskRequest(UnmaskRequest(roundID: roundID, survivors: tree.view(for: recipient), signatures: [])),
                    to: [recipient]))
            }
        }
        return actions
    }

    private mutating func closeChecking(_ current: CollectingSignatures, now: ProtocolInstant) -> [CoordinatorAction] {
        var actions = dropSilent()
        let signers = current.signatures.keys.filter { live.contains($0) }.sorted()
        phaseCounts[.consistencyCheck] = signers.count
        guard signers.count >= requiredSurvivors else {
            return actions + finish(aborting: AbortReason(
                .tooFewConsistencySignatures, "\(signers.count) clients signed the survivor set, the round needs \(requiredSurvivors)"))
        }
        state = .unmasking(CollectingUnmaskResponses(
            collected: current.collected, survivors: current.survivors, recipients: Set(signers)))
        actions += open(.unmasking, members: signers, now: now)
        // Each signer gets its view again and the stored signatures of its neighbours (SPEC §4.7).
        let graph = current.collected.context.graph
        for signer in signers {
            let signatures = graph.neighbors(of: signer).compactMap { index in
                current.signatures[index].map { ConsistencySignature(index: index, signature: $0) }
            }
            actions.append(.send(
                .unmaskRequest(UnmaskRequest(
                    roundID: configuration.parameters.roundID, survivors: current.tree.view(for: signer),
                    signatures: signatures)),
                to: [signer]))
        }
        return actions
    }

    private mutating func closeUnmasking(_ current: CollectingUnmaskResponses) -> [CoordinatorAction] {
        var actions = dropSilent()
        phaseCounts[.unmasking] = current.responded.count
        let threshold = Int(configuration.parameters.threshold)
        guard current.responded.count >= threshold else {
            return actions + finish(aborting: AbortReason(
                .tooFewUnmaskResponses, "\(current.responded.count) clients answered unmasking, threshold is \(threshold)"))
        }
        switch current.reconstructSum(workers: configuration.unmaskingWorkers) {
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

extension CoordinatorStateMachine {
    /// Removes from `members`, until nothing changes, every member with fewer than `threshold` neighbours inside it
    /// (SPEC §8.3), and returns the removed ones in increasing order. The result is the largest subset in which
    /// everyone keeps `threshold` neighbours, whatever the order of removal; a work list makes it O(N·k).
    static func prune(
        _ members: inout Set<ParticipantIndex>, graph: NeighborGraph, threshold: Int
    ) -> [ParticipantIndex] {
        var holders: [ParticipantIndex: Int] = [:]
        holders.reserveCapacity(members.count)
        var pending: [ParticipantIndex] = []
        for member in members {
            let count = graph.neighbors(of: member).count { members.contains($0) }
            holders[member] = count
            if count < threshold { pending.append(member) }
        }
        var removed: [ParticipantIndex] = []
        while let member = pending.popLast() {
            guard members.remove(member) != nil else { continue }
            removed.append(member)
            for neighbour in graph.neighbors(of: member) where members.contains(neighbour) {
                let remaining = (holders[neighbour] ?? 0) - 1
                holders[neighbour] = remaining
                // Queued once, when it first falls below the threshold.
                if remaining == threshold - 1 { pending.append(neighbour) }
            }
        }
        return removed.sorted()
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
