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
    /// The rules the client holds the coordinator to (thresholds, active mode, enrollment authority, noise floor).
    public var policy: ClientPolicy

    public init(
        host: String, port: Int, coordinatorKey: Ed25519.VerifyingKey, identity: Ed25519.SigningKey, task: String,
        policy: ClientPolicy = ClientPolicy(), limits: TransportLimits = TransportLimits(), connectAttempts: Int = 5,
        initialBackoff: Duration = .milliseconds(200), maximumBackoff: Duration = .seconds(5),
        admissionTimeout: Duration = .seconds(600), outcomeTimeout: Duration = .seconds(120)
    ) {
        self.host = host
        self.port = port
        self.coordinatorKey = coordinatorKey
        self.identity = identity
        self.task = task
        self.policy = policy
        self.limits = limits
        self.connectAttempts = connectAttempts
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.admissionTimeout = admissionTimeout
        self.outcomeTimeout = outcomeTimeout
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
    /// The coordinator refused this client: its identity (not enrolled, revoked, not endorsed), the task (unknown,
    /// no more rounds), its queue (full), or a second connection of the same identity (SPEC §4.9).
    case joinRefused(JoinResponse.Refusal, reason: String)
    /// The coordinator dropped this client from the round in `phase` before its input could be counted (it was too
    /// slow, or the coordinator refused a message): the input is in no released sum; submitting it again is safe.
    case dropped(phase: RoundPhase, reason: String)
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
        case let .joinRefused(refusal, reason): return "refused by the coordinator (\(refusal)): \(reason)"
        case let .dropped(phase, reason):
            return "dropped from the round in the \(phase) phase (\(reason)); the input was not counted and may be submitted again"
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
    /// and runs the round (a ``ClientSession``). Cancelling the calling task closes the connection at any await; in
    /// a round, it first tells the coordinator with ClientAbort 0x0206 (`cancelled`), and throws
    /// `CancellationError`.
    ///
    /// - Returns: the receipt: completed (with the survivor count) or aborted (with the code and reason).
    /// - Throws: ``SecAggClientError`` or ``TransportError`` when no outcome could be obtained: among them
    ///   ``SecAggClientError/joinRefused(_:reason:)`` with the coordinator's reason (not enrolled, revoked, unknown
    ///   task, queue full, shutting down, already joined), and after a lost connection with the input sent, the
    ///   signed answer of an outcome query (``SecAggClientError/notCounted(roundID:reason:)``,
    ///   ``SecAggClientError/outcomeUnknown(roundID:reason:)``) or a receipt learned from it.
    public func participate(input: [UInt64]) async throws -> ParticipationReceipt {
        try await participate(input: input, beforePhase: nil)
    }

    /// ``participate(input:)`` with a hook for tests and simulations: `beforePhase` is called with each phase as
    /// its request arrives, before the client answers; throwing from it leaves the round silently (the connection
    /// closes without an abort message), which models a client that crashes in that phase.
    package func participate(
        input: [UInt64], beforePhase: (@Sendable (RoundPhase) async throws -> Void)?
    ) async throws -> ParticipationReceipt {
        let channel = try await connect()
        let configuration = self.configuration
        let logger = self.logger
        return try await SecureTransport.initiate(
            channel, identity: configuration.identity, expectedPeer: configuration.coordinatorKey,
            limits: configuration.limits
        ) { session, receiver in
            var client = ClientSession(
                configuration: ClientConfiguration(identity: configuration.identity, policy: configuration.policy),
                input: input, task: configuration.task)
            var random = SystemRandom()
            var joined = false
            var invited = false
            func lost(_ reason: String) async throws -> ParticipationReceipt {
                // Once the masked input is sent it may be counted: a lost connection is followed by an outcome query
                // (SPEC §4.10), so that an input in a released sum is never reported as lost.
                guard client.inputSent, let roundID = client.roundID else {
                    throw SecAggClientError.connectionLost(reason)
                }
                logger.notice("connection lost after the masked input; asking how the round ended", metadata: [
                    "round": "\(roundID)", "reason": "\(reason)",
                ])
                return try await recover(roundID: roundID, participant: client.participant, lostBecause: reason)
            }
            /// The participation's result once the session has ended.
            func conclude(_ end: ClientSession.End) async throws -> ParticipationReceipt {
                switch end {
                case let .receipt(receipt):
                    return ParticipationReceipt(roundID: receipt.roundID, participant: receipt.participant, outcome: receipt.outcome)
                case let .refused(refusal, reason):
                    throw SecAggClientError.joinRefused(refusal, reason: reason)
                case let .coordinatorViolation(violation):
                    logger.warning("leaving the round: coordinator violation", metadata: ["reason": "\(violation)"])
                    throw SecAggClientError.coordinatorViolation(violation)
                case let .dropped(phase, cause, reason):
                    // After the masked input the round may still count it: ask how it ended.
                    if client.inputSent { return try await lost("dropped in the \(phase) phase: \(reason)") }
                    throw SecAggClientError.dropped(phase: phase, reason: reason.isEmpty ? "\(cause)" : reason)
                }
            }
            /// Sends, in order; reports a failed send after the input left as a lost connection.
            func perform(_ actions: [ClientSession.Action]) async throws -> ParticipationReceipt? {
                for action in actions {
                    switch action {
                    case let .send(bytes):
                        do {
                            try await session.send(bytes)
                        } catch where !(error is CancellationError) {
                            // The coordinator may have refused or dropped this client and closed the connection:
                            // its last message, if it arrived, says why.
                            if let last = try? await receiver.receive(within: .seconds(1)) {
                                for case let .ended(end) in client.handle(last, using: &random) {
                                    return try await conclude(end)
                                }
                            }
                            if client.inputSent { return try await lost("\(error)") }
                            throw error
                        }
                    case .joined:
                        joined = true
                        logger.debug("joined", metadata: ["task": "\(configuration.task)"])
                    case .invited, .inputSent:
                        break
                    case let .ended(end):
                        return try await conclude(end)
                    }
                }
                return nil
            }
            func runRound() async throws -> ParticipationReceipt {
                if let done = try await perform(client.start()) { return done }
                while true {
                    let timeout = !joined ? configuration.limits.handshakeTimeout
                        : invited ? configuration.limits.idleTimeout : configuration.admissionTimeout
                    let bytes: [UInt8]?
                    do {
                        bytes = try await receiver.receive(within: timeout)
                    } catch TransportError.idleTimeout where joined && !invited {
                        throw SecAggClientError.notAdmitted
                    } catch where client.inputSent && !(error is CancellationError) {
                        return try await lost("\(error)")
                    }
                    guard let bytes else {
                        if !joined { throw SecAggClientError.connectionLost("closed before answering the join") }
                        return try await lost("the coordinator closed the connection")
                    }
                    if joined {
                        invited = true
                        if let beforePhase, let phase = (try? CoordinatorMessage(decoding: bytes))?.phase { try await beforePhase(phase) }
                    }
                    if let done = try await perform(client.handle(bytes, using: &random)) { return done }
                }
            }
            do {
                return try await runRound()
            } catch is CancellationError where Task.isCancelled {
                // The caller stopped (e.g. `secagg participate` on SIGTERM): leave the round with ClientAbort
                // 0x0206 (SPEC 8.7) so the coordinator drops this client at once instead of at the phase's deadline.
                // Sent from a task that is not cancelled; one small message, best effort, for at most 2 s (a
                // coordinator that stopped reading must not hold up a client that is being stopped).
                for case let .send(bytes) in client.abort(.cancelled, detail: "the client was stopped") {
                    await Task.detached {
                        await withTaskGroup(of: Void.self) { group in
                            group.addTask { try? await session.send(bytes) }
                            group.addTask { try? await Task.sleep(for: .seconds(2)) }
                            _ = await group.next()
                            group.cancelAll()
                        }
                    }.value
                    logger.notice("left the round: stopped", metadata: ["round": "\(client.roundID.map { "\($0)" } ?? "-")"])
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
            if let (refusal, reason) = JoinResponse.refusal(in: answer) {
                throw SecAggClientError.joinRefused(refusal, reason: reason)
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
