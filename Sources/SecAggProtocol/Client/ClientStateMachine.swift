import SecAggCrypto
import SecAggMath
import SecAggWire

/// The client side of one round, sans-IO (SPEC §8.1).
///
/// Feed it every message from the coordinator with ``handle(_:using:)``; it returns the messages to send and,
/// at the end, a receipt. It reads no clock and draws randomness only from the source it is given. A rejected
/// message throws and leaves the machine exactly as it was.
///
/// Safety rule enforced here, not left to the coordinator: for every neighbour, the client reveals at most one of
/// the two shares it holds (self-mask seed if the neighbour survived, masking key if it dropped), and it reveals
/// shares at most once per round.
public struct ClientStateMachine: Sendable {
    enum State: Sendable {
        case awaitingInvitation(AwaitingInvitation)
        case advertised(AdvertisedKeys)
        case shared(SharedKeys)
        case maskedInputSent(MaskedInputSent)
        case survivorsSigned(SurvivorsSigned)
        case awaitingOutcome(AwaitingOutcome)
        case finished(ClientReceipt)
    }

    private var state: State
    private let configuration: ClientConfiguration

    /// Creates a client that will contribute `input` (each entry a value in 0...maximumInput of the round).
    public init(configuration: ClientConfiguration, input: [UInt64]) {
        self.configuration = configuration
        state = .awaitingInvitation(AwaitingInvitation(input: .values(input)))
    }

    /// Creates a client whose input is already a vector of lanes (its entries must still be at most the round's
    /// maximumInput, and its `bits` should match the round's; otherwise it is converted or refused).
    public init(configuration: ClientConfiguration, input: ModularVector) {
        self.configuration = configuration
        state = .awaitingInvitation(AwaitingInvitation(input: .lanes(input)))
    }

    /// The phase the client is in, or nil before the invitation and after the end.
    public var phase: RoundPhase? {
        switch state {
        case .awaitingInvitation, .finished: return nil
        case .advertised: return .advertiseKeys
        case .shared: return .shareKeys
        case .maskedInputSent: return .maskedInputCollection
        case .survivorsSigned: return .consistencyCheck
        case .awaitingOutcome: return .unmasking
        }
    }

    /// The receipt, once the round is over for this client.
    public var receipt: ClientReceipt? {
        if case let .finished(receipt) = state { return receipt }
        return nil
    }

    /// Processes one message from the coordinator.
    ///
    /// - Returns: actions for the driver, in order (messages to send, then possibly `.finished`).
    /// - Throws: ``ClientError/coordinatorViolation(_:)`` when the message is not allowed here (wrong round,
    ///   out of phase, forged or inconsistent content); ``ClientError/usage(_:)`` after the round finished.
    ///   In both cases the state is unchanged.
    public mutating func handle(
        _ message: CoordinatorMessage, using random: inout some RandomSource
    ) throws(ClientError) -> [ClientAction] {
        let transition: Transition
        switch (state, message) {
        case let (.finished, message):
            _ = message
            throw .usage(.roundFinished)
        case let (_, .roundOutcome(outcome)):
            transition = try outcomeTransition(outcome)
        case let (.awaitingInvitation(current), .advertiseKeysRequest(request)):
            transition = current.handle(request, configuration: configuration, random: &random)
        case let (.advertised(current), .shareKeysRequest(request)):
            transition = try current.handle(request, configuration: configuration, random: &random)
        case let (.shared(current), .maskedInputRequest(request)):
            transition = try current.handle(request, random: &random)
        case let (.maskedInputSent(current), .consistencyCheckRequest(request)) where current.context.parameters.mode == .active:
            transition = try current.handle(request, identity: configuration.identity)
        case let (.maskedInputSent(current), .unmaskRequest(request)) where current.context.parameters.mode == .honestButCurious:
            transition = try current.handleUnmask(request)
        case let (.survivorsSigned(current), .unmaskRequest(request)):
            transition = try current.handle(request)
        default:
            throw .coordinatorViolation(.unexpectedMessage(message: "\(message.typeName)", state: stateName))
        }
        state = transition.next
        return transition.actions
    }

    /// Leaves the round on the caller's initiative (shutdown, or after a coordinator violation).
    ///
    /// - Returns: the ``ClientAbort`` message to send, if the round had started and was not already finished.
    public mutating func abort(_ code: AbortCode, detail: String) -> ClientMessage? {
        let roundID = currentRoundID
        let participant = currentParticipant
        if case .finished = state { return nil }
        state = .finished(ClientReceipt(
            roundID: roundID, participant: participant, outcome: .aborted(code: code.rawValue, reason: detail)))
        guard let roundID else { return nil }
        return .abort(ClientAbort(roundID: roundID, code: code.rawValue, reason: detail))
    }

    private func outcomeTransition(_ outcome: RoundOutcome) throws(ClientError) -> Transition {
        guard let roundID = currentRoundID else {
            // A round can be refused before anyone is invited (e.g. an exhausted privacy budget): the abort is
            // the client's outcome. A completion for a round it never joined is a violation.
            guard case let .aborted(code, reason) = outcome.result else {
                throw .coordinatorViolation(.unexpectedMessage(message: "roundOutcome(completed)", state: stateName))
            }
            let receipt = ClientReceipt(roundID: outcome.roundID, participant: nil, outcome: .aborted(code: code, reason: reason))
            return Transition(next: .finished(receipt), actions: [.finished(receipt)])
        }
        guard outcome.roundID == roundID else {
            throw .coordinatorViolation(.wrongRound(expected: roundID, actual: outcome.roundID))
        }
        let result: ClientReceipt.Outcome
        switch outcome.result {
        case let .completed(count):
            // A completed round before this client revealed its shares means its input was not counted.
            guard case .awaitingOutcome = state else {
                throw .coordinatorViolation(.unexpectedMessage(message: "roundOutcome(completed)", state: stateName))
            }
            result = .completed(survivorCount: count)
        case let .aborted(code, reason):
            result = .aborted(code: code, reason: reason)
        }
        let receipt = ClientReceipt(roundID: roundID, participant: currentParticipant, outcome: result)
        return Transition(next: .finished(receipt), actions: [.finished(receipt)])
    }

    private var currentRoundID: RoundID? {
        switch state {
        case .awaitingInvitation: return nil
        case let .advertised(s): return s.parameters.roundID
        case let .shared(s): return s.context.parameters.roundID
        case let .maskedInputSent(s): return s.context.parameters.roundID
        case let .survivorsSigned(s): return s.sent.context.parameters.roundID
        case let .awaitingOutcome(s): return s.roundID
        case let .finished(receipt): return receipt.roundID
        }
    }

    private var currentParticipant: ParticipantIndex? {
        switch state {
        case .awaitingInvitation: return nil
        case let .advertised(s): return s.index
        case let .shared(s): return s.index
        case let .maskedInputSent(s): return s.index
        case let .survivorsSigned(s): return s.sent.index
        case let .awaitingOutcome(s): return s.index
        case let .finished(receipt): return receipt.participant
        }
    }

    private var stateName: String {
        switch state {
        case .awaitingInvitation: return "awaitingInvitation"
        case .advertised: return "advertisedKeys"
        case .shared: return "sharedKeys"
        case .maskedInputSent: return "maskedInputSent"
        case .survivorsSigned: return "survivorsSigned"
        case .awaitingOutcome: return "awaitingOutcome"
        case .finished: return "finished"
        }
    }
}

/// The next state and the actions a transition produces.
struct Transition: Sendable {
    var next: ClientStateMachine.State
    var actions: [ClientAction]

    /// A transition that ends the round for this client with an abort the coordinator is told about.
    static func abort(roundID: RoundID, participant: ParticipantIndex?, _ code: AbortCode, _ detail: String) -> Transition {
        let receipt = ClientReceipt(
            roundID: roundID, participant: participant, outcome: .aborted(code: code.rawValue, reason: detail))
        return Transition(
            next: .finished(receipt),
            actions: [.send(.abort(ClientAbort(roundID: roundID, code: code.rawValue, reason: detail))), .finished(receipt)])
    }
}

extension CoordinatorMessage {
    /// The message's name for errors and logs.
    public var typeName: String {
        switch self {
        case .advertiseKeysRequest: return "advertiseKeysRequest"
        case .shareKeysRequest: return "shareKeysRequest"
        case .maskedInputRequest: return "maskedInputRequest"
        case .consistencyCheckRequest: return "consistencyCheckRequest"
        case .unmaskRequest: return "unmaskRequest"
        case .roundOutcome: return "roundOutcome"
        }
    }
}

extension CoordinatorMessage {
    /// The phase this message opens, or nil for the round outcome.
    public var phase: RoundPhase? {
        switch self {
        case .advertiseKeysRequest: return .advertiseKeys
        case .shareKeysRequest: return .shareKeys
        case .maskedInputRequest: return .maskedInputCollection
        case .consistencyCheckRequest: return .consistencyCheck
        case .unmaskRequest: return .unmasking
        case .roundOutcome: return nil
        }
    }
}
