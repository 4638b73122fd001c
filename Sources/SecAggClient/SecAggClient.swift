import Logging
import NIOCore
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire

/// Where and how a client reaches its coordinator.
public struct SecAggClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The coordinator's Ed25519 identity; the handshake fails unless the coordinator proves it holds this key.
    public var coordinatorKey: Ed25519.VerifyingKey
    /// This client's enrolled identity.
    public var identity: Ed25519.SigningKey
    public var task: String
    public var limits: TransportLimits
    /// Connection attempts before giving up, and the backoff between them (doubling up to `maximumBackoff`).
    public var connectAttempts: Int
    public var initialBackoff: Duration
    public var maximumBackoff: Duration
    /// How long to wait, connected, for a round to start.
    public var admissionTimeout: Duration
    /// After losing the connection once its masked input was sent, how long to keep asking the coordinator how the
    /// round ended (SPEC §4.10) while it is still running or unreachable.
    public var outcomeTimeout: Duration
    /// Rules the client holds the coordinator to (thresholds, active mode, enrollment authority).
    public var enrollmentAuthority: Ed25519.VerifyingKey?
    public var minimumThreshold: UInt32
    public var minimumSurvivors: UInt32
    public var requireActiveMode: Bool

    public init(
        host: String, port: Int, coordinatorKey: Ed25519.VerifyingKey, identity: Ed25519.SigningKey, task: String,
        limits: TransportLimits = TransportLimits(), connectAttempts: Int = 5, initialBackoff: Duration = .milliseconds(200),
        maximumBackoff: Duration = .seconds(5), admissionTimeout: Duration = .seconds(600),
        enrollmentAuthority: Ed25519.VerifyingKey? = nil, minimumThreshold: UInt32 = 2, minimumSurvivors: UInt32 = 3,
        requireActiveMode: Bool = false, outcomeTimeout: Duration = .seconds(120)
    ) {
        self.outcomeTimeout = outcomeTimeout
        self.host = host
        self.port = port
        self.coordinatorKey = coordinatorKey
        self.identity = identity
        self.task = task
        self.limits = limits
        self.connectAttempts = connectAttempts
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.admissionTimeout = admissionTimeout
        self.enrollmentAuthority = enrollmentAuthority
        self.minimumThreshold = minimumThreshold
        self.minimumSurvivors = minimumSurvivors
        self.requireActiveMode = requireActiveMode
    }
}

/// What a client learns from a round it took part in.
public struct ParticipationReceipt: Sendable, Hashable {
    public var roundID: RoundID?
    /// This client's index in the round.
    public var participant: ParticipantIndex?
    public var outcome: ClientReceipt.Outcome
}

/// Why participation failed before the round produced an outcome.
public enum SecAggClientError: Error, Sendable, CustomStringConvertible {
    /// No connection could be made after every attempt.
    case unreachable(attempts: Int, lastError: String)
    /// The coordinator refused the join.
    case joinRefused(JoinResponse.Refusal, reason: String)
    /// The coordinator broke the protocol; the client left the round (and told it why, if possible).
    case coordinatorViolation(String)
    /// The connection closed before the round ended.
    case connectionLost(String)
    /// No round started within the admission timeout.
    case notAdmitted
    /// The connection was lost after the masked input was sent, and the coordinator answered (signed) that the
    /// round released a sum without this input: submitting it again is safe.
    case notCounted(roundID: RoundID, reason: String)
    /// The connection was lost after the masked input was sent, and whether the input is in a released sum could
    /// not be learned in time: it may have been counted, so it must not be submitted again blindly.
    case outcomeUnknown(roundID: RoundID, reason: String)

    public var description: String {
        switch self {
        case let .unreachable(attempts, lastError): return "coordinator unreachable after \(attempts) attempts: \(lastError)"
        case let .joinRefused(refusal, reason): return "join refused (\(refusal)): \(reason)"
        case let .coordinatorViolation(reason): return "coordinator violated the protocol: \(reason)"
        case let .connectionLost(reason): return "connection lost before the round ended: \(reason)"
        case .notAdmitted: return "no round started within the admission timeout"
        case let .notCounted(roundID, reason):
            return "round \(roundID) released a sum without this input (\(reason)); it may be submitted again"
        case let .outcomeUnknown(roundID, reason):
            return "whether round \(roundID) counted this input is unknown (\(reason)); do not submit it again blindly"
        }
    }
}

/// The client library: connects to the coordinator over Noise, joins a task, and runs the client state machine
/// for one round with the given input. Randomness is always libsodium's CSPRNG.
public struct SecAggClient: Sendable {
    public let configuration: SecAggClientConfiguration
    private let logger: Logger

    public init(configuration: SecAggClientConfiguration, logger: Logger = Logger(label: "secagg.client")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Takes part in the next round of the configured task with `input` (entries in 0...maximumInput).
    ///
    /// Connects (retrying with exponential backoff), authenticates the coordinator, joins, waits to be invited,
    /// and runs the round. Cancelling the calling task closes the connection at any await; in a round, it first
    /// tells the coordinator with ClientAbort 0x0206 (`cancelled`), and throws `CancellationError`.
    ///
    /// `beforePhase`, if given, is called with each phase as its request arrives, before the client answers;
    /// throwing from it leaves the round silently (the connection closes without an abort message), which is how
    /// tests and simulations model a client that crashes in that phase.
    ///
    /// - Returns: the receipt: completed (with the survivor count) or aborted (with the code and reason).
    /// - Throws: ``SecAggClientError`` or ``TransportError`` when no outcome could be obtained, or what
    ///   `beforePhase` throws.
    public func participate(
        input: [UInt64], beforePhase: (@Sendable (RoundPhase) async throws -> Void)? = nil
    ) async throws -> ParticipationReceipt {
        let channel = try await connect()
        let configuration = self.configuration
        let logger = self.logger
        return try await SecureTransport.initiate(
            channel, identity: configuration.identity, expectedPeer: configuration.coordinatorKey,
            limits: configuration.limits
        ) { session, receiver in
            try await session.send(JoinRequest(taskName: configuration.task).encoded)
            guard let answer = try await receiver.receive(within: configuration.limits.handshakeTimeout) else {
                throw SecAggClientError.connectionLost("closed before answering the join")
            }
            switch try JoinResponse(decoding: answer).result {
            case .accepted:
                logger.debug("joined", metadata: ["task": "\(configuration.task)"])
            case let .refused(refusal, reason):
                throw SecAggClientError.joinRefused(refusal, reason: reason)
            }
            var machine = ClientStateMachine(
                configuration: ClientConfiguration(
                    identity: configuration.identity, enrollmentAuthority: configuration.enrollmentAuthority,
                    minimumThreshold: configuration.minimumThreshold, minimumSurvivors: configuration.minimumSurvivors,
                    requireActiveMode: configuration.requireActiveMode),
                input: input)
            var random = SystemRandom()
            var invited = false
            // Once the masked input is sent it may be counted: a connection lost after that is followed by an
            // outcome query (SPEC §4.10), so that an input in a released sum is never reported as lost.
            var roundID: RoundID?
            var participant: ParticipantIndex?
            var inputSent = false
            func lost(_ reason: String) async throws -> ParticipationReceipt {
                guard inputSent, let roundID else { throw SecAggClientError.connectionLost(reason) }
                logger.notice("connection lost after the masked input; asking how the round ended", metadata: [
                    "round": "\(roundID)", "reason": "\(reason)",
                ])
                return try await recover(roundID: roundID, participant: participant, lostBecause: reason)
            }
            func runRound() async throws -> ParticipationReceipt {
                while true {
                    let timeout = invited ? configuration.limits.idleTimeout : configuration.admissionTimeout
                    let bytes: [UInt8]?
                    do {
                        bytes = try await receiver.receive(within: timeout)
                    } catch TransportError.idleTimeout where !invited {
                        throw SecAggClientError.notAdmitted
                    } catch where inputSent && !(error is CancellationError) {
                        return try await lost("\(error)")
                    }
                    guard let bytes else {
                        return try await lost("the coordinator closed the connection")
                    }
                    invited = true
                    var violation: String?
                    var actions: [ClientAction] = []
                    do {
                        let message = try CoordinatorMessage(decoding: bytes)
                        if case let .advertiseKeysRequest(request) = message {
                            roundID = request.parameters.roundID
                            participant = request.participant
                        }
                        if let beforePhase, let phase = message.phase { try await beforePhase(phase) }
                        do {
                            actions = try machine.handle(message, using: &random)
                        } catch {
                            violation = "\(error)"
                        }
                    } catch let error as WireError {
                        violation = "\(ProtocolViolation.malformed(error))"
                    }
                    if let violation {
                        logger.warning("leaving the round: coordinator violation", metadata: ["reason": "\(violation)"])
                        if let abort = machine.abort(.coordinatorMisbehaved, detail: violation) {
                            try? await session.send(abort.encoded)
                        }
                        throw SecAggClientError.coordinatorViolation(violation)
                    }
                    for action in actions {
                        switch action {
                        case let .send(message):
                            do {
                                try await session.send(message.encoded)
                            } catch where inputSent && !(error is CancellationError) {
                                return try await lost("\(error)")
                            }
                            if case .maskedInput = message { inputSent = true }
                        case let .finished(receipt):
                            return ParticipationReceipt(
                                roundID: receipt.roundID, participant: receipt.participant, outcome: receipt.outcome)
                        }
                    }
                }
            }
            do {
                return try await runRound()
            } catch is CancellationError where Task.isCancelled {
                // The caller stopped (e.g. `secagg participate` on SIGTERM): leave the round with ClientAbort
                // 0x0206 (SPEC 8.7) so the coordinator drops this client at once instead of at the phase's deadline.
                // Sent from a task that is not cancelled; one small message, best effort, for at most 2 s (a
                // coordinator that stopped reading must not hold up a client that is being stopped).
                if let abort = machine.abort(.cancelled, detail: "the client was stopped") {
                    let bytes = abort.encoded
                    await Task.detached {
                        await withTaskGroup(of: Void.self) { group in
                            group.addTask { try? await session.send(bytes) }
                            group.addTask { try? await Task.sleep(for: .seconds(2)) }
                            _ = await group.next()
                            group.cancelAll()
                        }
                    }.value
                    logger.notice("left the round: stopped", metadata: ["round": "\(roundID.map { "\($0)" } ?? "-")"])
                }
                throw CancellationError()
            }
        }
    }

    /// Asks the coordinator, on a new connection, how round `roundID` ended for this client's input (SPEC §4.10),
    /// and checks the coordinator's signature on the answer.
    ///
    /// - Returns: the signed receipt: `included` (the input is in the released sum), `excluded` (released without
    ///   it), `aborted`, `pending` (still running) or `unknown`.
    /// - Throws: ``SecAggClientError/unreachable(attempts:lastError:)``, ``TransportError``, or
    ///   ``SecAggClientError/coordinatorViolation(_:)`` for a malformed answer, one about another round, or a bad
    ///   signature.
    public func queryOutcome(of roundID: RoundID) async throws -> OutcomeReceipt {
        let channel = try await connect()
        let configuration = self.configuration
        return try await SecureTransport.initiate(
            channel, identity: configuration.identity, expectedPeer: configuration.coordinatorKey,
            limits: configuration.limits
        ) { session, receiver in
            try await session.send(OutcomeQuery(roundID: roundID).encoded)
            guard let answer = try await receiver.receive(within: configuration.limits.handshakeTimeout) else {
                throw SecAggClientError.connectionLost("closed before answering the outcome query")
            }
            let receipt: OutcomeReceipt
            do {
                receipt = try OutcomeReceipt(decoding: answer)
            } catch {
                throw SecAggClientError.coordinatorViolation("malformed outcome receipt: \(error)")
            }
            guard receipt.roundID == roundID else {
                throw SecAggClientError.coordinatorViolation("the outcome receipt is about round \(receipt.roundID), not \(roundID)")
            }
            let content = receipt.signedContent(client: configuration.identity.verifyingKey.rawRepresentation)
            guard let signature = try? Ed25519.Signature(rawRepresentation: receipt.signature),
                  configuration.coordinatorKey.isValidSignature(signature, for: content) else {
                throw SecAggClientError.coordinatorViolation("the outcome receipt's signature does not verify")
            }
            return receipt
        }
    }

    /// Learns how a round ended after the connection was lost with the masked input sent: asks (again while the
    /// round runs or the coordinator is unreachable, up to ``SecAggClientConfiguration/outcomeTimeout``) and turns
    /// the signed receipt into the participation's result.
    private func recover(
        roundID: RoundID, participant: ParticipantIndex?, lostBecause reason: String
    ) async throws -> ParticipationReceipt {
        let deadline = ContinuousClock.now + configuration.outcomeTimeout
        var backoff = configuration.initialBackoff
        var last = reason
        while true {
            do {
                let receipt = try await queryOutcome(of: roundID)
                switch receipt.status {
                case .included:
                    return ParticipationReceipt(
                        roundID: roundID, participant: participant,
                        outcome: .completed(survivorCount: receipt.survivorCount))
                case .aborted:
                    return ParticipationReceipt(
                        roundID: roundID, participant: participant,
                        outcome: .aborted(code: receipt.abortCode, reason: "learned after the connection was lost (\(reason))"))
                case .excluded:
                    throw SecAggClientError.notCounted(
                        roundID: roundID, reason: "\(receipt.survivorCount) inputs were summed; the connection was lost: \(reason)")
                case .unknown:
                    throw SecAggClientError.outcomeUnknown(
                        roundID: roundID, reason: "the coordinator has no record of this client in that round")
                case .pending:
                    last = "the round is still running"
                }
            } catch let error as SecAggClientError {
                switch error {
                case .coordinatorViolation, .notCounted, .outcomeUnknown: throw error
                default: last = "\(error)"
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                last = "\(error)"
            }
            guard ContinuousClock.now + backoff < deadline else {
                throw SecAggClientError.outcomeUnknown(roundID: roundID, reason: "\(reason); then: \(last)")
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, configuration.maximumBackoff)
        }
    }

    /// Opens the TCP connection, retrying with exponential backoff.
    private func connect() async throws -> FrameChannel {
        var backoff = configuration.initialBackoff
        var lastError = "no attempt made"
        for attempt in 1...max(1, configuration.connectAttempts) {
            try Task.checkCancellation()
            do {
                return try await SecureTransport.connect(
                    host: configuration.host, port: configuration.port, limits: configuration.limits)
            } catch {
                lastError = "\(error)"
                logger.debug("connect failed", metadata: ["attempt": "\(attempt)", "error": "\(lastError)"])
                if attempt < configuration.connectAttempts {
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, configuration.maximumBackoff)
                }
            }
        }
        throw SecAggClientError.unreachable(attempts: configuration.connectAttempts, lastError: lastError)
    }
}
