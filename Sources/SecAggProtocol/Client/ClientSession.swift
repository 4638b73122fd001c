import SecAggCrypto
import SecAggWire

/// One client's conversation with a coordinator over one connection, sans-IO: the join (SPEC §4.9), then the
/// round's ``ClientStateMachine`` under the client's ``ClientPolicy``. Every front end drives this one type — the
/// Swift `SecAggClient`, the C ABI (`secagg_client`, `secagg_participate`) and
/// `secagg participate` — so the join, the refusals and the reaction to a violation are written once.
///
/// Bytes in (whole decrypted application messages), ``Action``s out; no clock, no socket, and randomness only
/// from the source given to ``handle(_:using:)``.
public struct ClientSession: Sendable {
    /// What the driver does next.
    public enum Action: Sendable, Equatable {
        /// Send these bytes (one application message) to the coordinator.
        case send([UInt8])
        /// The coordinator accepted the join: wait for a round (the admission timeout applies).
        case joined
        /// A round started with this client as `participant` (the idle timeout applies from now on).
        case invited(RoundID, participant: ParticipantIndex)
        /// The masked input is among the messages just sent: from now on it may be counted, so a lost connection
        /// calls for an outcome query (SPEC §4.10) rather than a new attempt.
        case inputSent
        /// The session is over; nothing more is accepted. Close the connection once the sends are flushed.
        case ended(End)
    }

    /// How a session ended.
    public enum End: Sendable, Hashable {
        /// The round ended for this client with a receipt (completed, or aborted by either side).
        case receipt(ClientReceipt)
        /// The coordinator refused this client (its identity, the task, the queue, or shutting down).
        case refused(JoinResponse.Refusal, reason: String)
        /// The coordinator broke the protocol; the client left the round (a ClientAbort is queued when a round had
        /// started).
        case coordinatorViolation(String)
        /// The coordinator dropped this client in `phase` (SPEC §4.11). If ``ClientSession/inputSent``, the input
        /// may still be in the sum (it is once the coordinator has it and the round completes): ask (SPEC §4.10);
        /// otherwise it is in no released sum.
        case dropped(phase: RoundPhase, cause: DropNotice.Cause, reason: String)
    }

    private var machine: ClientStateMachine
    /// True until the join answer arrives (only when the session sends the join itself).
    private var awaitingJoinAnswer: Bool
    private let task: String?
    /// The session's end, once reached.
    public private(set) var end: End?
    /// The round this client was invited to, and its index in it.
    public private(set) var roundID: RoundID?
    public private(set) var participant: ParticipantIndex?
    /// Whether the masked input has been handed to the driver to send.
    public private(set) var inputSent = false

    /// A session contributing `input`. With a `task`, ``start()`` yields the JoinRequest and the first message
    /// handled must be the coordinator's JoinResponse; with nil, the caller has joined already and the first
    /// message handled is the round's first request.
    public init(configuration: ClientConfiguration, input: [UInt64], task: String?) {
        machine = ClientStateMachine(configuration: configuration, input: input)
        self.task = task
        awaitingJoinAnswer = task != nil
    }

    /// The phase the client is in, or nil before the invitation and after the end.
    public var phase: RoundPhase? { machine.phase }

    /// The receipt, once the session has ended: the round's, or for a refusal an aborted receipt with the refusal
    /// code (0x0301...), or for a violation one with `coordinatorMisbehaved`; nil after a drop (the round goes on
    /// without this client, and its end is not known here).
    public var receipt: ClientReceipt? {
        switch end {
        case nil, .dropped?: return nil
        case let .receipt(receipt): return receipt
        case let .refused(refusal, reason):
            return ClientReceipt(roundID: nil, participant: nil, outcome: .aborted(code: refusal.rawValue, reason: reason))
        case let .coordinatorViolation(violation):
            return machine.receipt ?? ClientReceipt(
                roundID: roundID, participant: participant,
                outcome: .aborted(code: AbortCode.coordinatorMisbehaved.rawValue, reason: violation))
        }
    }

    /// The session's first messages: the JoinRequest when a task was given, else nothing.
    public func start() -> [Action] {
        task.map { [.send(JoinRequest(taskName: $0).encoded)] } ?? []
    }

    /// Handles one application message from the coordinator.
    ///
    /// A message the protocol does not allow (malformed, out of place, forged) ends the session with
    /// ``End/coordinatorViolation(_:)``, after a ClientAbort (`coordinatorMisbehaved`) to send if a round had
    /// started. A message after the end is ignored (returns nothing): the driver closes the connection.
    public mutating func handle(_ bytes: [UInt8], using random: inout some RandomSource) -> [Action] {
        guard end == nil else { return [] }
        if awaitingJoinAnswer { return handleJoinAnswer(bytes) }
        if bytes.count > 2, bytes[2] == DropNotice.typeCode { return handleDropNotice(bytes) }
        // A client waiting for a round may be released with its join withdrawn (the task paused or stopping, its
        // identity revoked: SPEC §4.9).
        if roundID == nil, machine.receipt == nil, let (refusal, reason) = JoinResponse.refusal(in: bytes) {
            return [finish(.refused(refusal, reason: reason))]
        }
        let violation: String
        do {
            let message = try CoordinatorMessage(decoding: bytes)
            if case let .advertiseKeysRequest(request) = message, roundID == nil {
                roundID = request.parameters.roundID
                participant = request.participant
            }
            do throws(ClientError) {
                let invitedNow = message.phase == .advertiseKeys && machine.phase == nil && machine.receipt == nil
                var actions: [Action] = []
                for action in try machine.handle(message, using: &random) {
                    switch action {
                    case let .send(reply):
                        actions.append(.send(reply.encoded))
                        if case .maskedInput = reply {
                            inputSent = true
                            actions.append(.inputSent)
                        }
                    case let .finished(receipt):
                        actions.append(finish(.receipt(receipt)))
                    }
                }
                if invitedNow, let roundID, let participant {
                    actions.insert(.invited(roundID, participant: participant), at: 0)
                }
                return actions
            } catch {
                violation = "\(error)"
            }
        } catch {
            violation = "\(ProtocolViolation.malformed(error))"
        }
        return leave(.coordinatorMisbehaved, detail: violation, ending: .coordinatorViolation(violation))
    }

    /// Leaves on the caller's initiative (a stop, a local failure): ends the session with an aborted receipt
    /// carrying `code`, after a ClientAbort to send if a round had started. Nothing if already ended.
    public mutating func abort(_ code: AbortCode, detail: String) -> [Action] {
        guard end == nil else { return [] }
        return leave(code, detail: detail, ending: nil)
    }

    private mutating func leave(_ code: AbortCode, detail: String, ending: End?) -> [Action] {
        var actions: [Action] = []
        if let abort = machine.abort(code, detail: detail) { actions.append(.send(abort.encoded)) }
        guard let ended = ending ?? machine.receipt.map(End.receipt) else { return actions }
        actions.append(finish(ended))
        return actions
    }

    private mutating func handleDropNotice(_ bytes: [UInt8]) -> [Action] {
        let violation: String
        do {
            let notice = try DropNotice(decoding: bytes)
            if let roundID, notice.roundID == roundID, let phase = RoundPhase(rawValue: notice.phase) {
                return [finish(.dropped(phase: phase, cause: notice.cause, reason: notice.reason))]
            }
            violation = "a drop notice for round \(notice.roundID), which this client is not in"
        } catch {
            violation = "\(ProtocolViolation.malformed(error))"
        }
        return leave(.coordinatorMisbehaved, detail: violation, ending: .coordinatorViolation(violation))
    }

    private mutating func handleJoinAnswer(_ bytes: [UInt8]) -> [Action] {
        let answer: JoinResponse
        do {
            answer = try JoinResponse(decoding: bytes)
        } catch {
            let violation = "the join answer: \(ProtocolViolation.malformed(error))"
            return [finish(.coordinatorViolation(violation))]
        }
        switch answer.result {
        case .accepted:
            awaitingJoinAnswer = false
            return [.joined]
        case let .refused(refusal, reason):
            return [finish(.refused(refusal, reason: reason))]
        }
    }

    private mutating func finish(_ ending: End) -> Action {
        end = ending
        return .ended(ending)
    }
}

extension JoinResponse {
    /// A JoinResponse that refuses the client, if `bytes` is one: what a coordinator sends, unasked, right after the
    /// handshake to a client it does not accept (SPEC §4.9), whatever the client's first message was.
    public static func refusal(in bytes: [UInt8]) -> (Refusal, reason: String)? {
        guard bytes.count > 2, bytes[2] == typeCode,
              let response = try? JoinResponse(decoding: bytes), case let .refused(refusal, reason) = response.result else {
            return nil
        }
        return (refusal, reason)
    }
}
