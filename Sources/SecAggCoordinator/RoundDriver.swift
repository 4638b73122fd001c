import Foundation
import Logging
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggTransport
import SecAggWire

/// How a round ended, as the coordinator records it.
public struct RoundRecord: Sendable {
    public var task: String
    public var roundID: RoundID
    public var parameters: RoundParameters
    /// The released sum (entries in order), or nil if the round aborted.
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
    /// Rebuilt from the store at a start after a crash, rather than recorded as the round ended (timings and
    /// byte counts may then be partial).
    public var recovered = false
}

/// What the round driver asks its scheduler before a round with noise starts: the noise to use, or why the round
/// may not run (an exhausted budget).
typealias PrivacyAdmission = @Sendable (_ roundID: RoundID, _ minimumSurvivors: Int, _ clients: Int) async
    -> Result<NoiseParameters, AbortReason>

/// What must be on disk before the round driver tells the clients: a phase before its requests go out, the result
/// before the outcome (the store, through ``TaskRecorder``). A failing call makes the driver abort the round
/// instead of telling the clients anything the record does not have.
protocol RoundJournal: Sendable {
    /// Records that `phase` opened with `participants` clients; called before the phase's requests are sent.
    func phaseStarted(roundID: RoundID, phase: RoundPhase, participants: Int) throws
    /// Commits a completed round's released sum; called before the outcome is sent.
    func releasing(_ record: RoundRecord) throws
    /// Records how the round ended and publishes it (final row and ledger settlement in the store, result file,
    /// ledger export, audit record), once, before the outcome is sent; what fails to publish is left for the next
    /// start to repair (``CoordinatorStore/unpublishedRounds()``).
    func finished(_ record: RoundRecord)
}

/// Drives one round: the real ``CoordinatorStateMachine`` fed with the participants' messages, their
/// disconnections and the clock; it owns the phase deadlines and closes a phase when everyone expected has
/// answered or the deadline passes.
struct RoundDriver {
    let task: TaskConfiguration
    let participants: [Participant]
    let logger: Logger
    let clock = ContinuousClock()
    let origin: ContinuousClock.Instant

    let admitPrivacy: PrivacyAdmission?
    let observers: ObserverList
    /// Where phases and the result are recorded before the clients are told.
    let journal: (any RoundJournal)?
    /// Where the round's live progress is published (admin `round watch`).
    let monitor: RoundMonitor?
    /// The least inbound budget of the round: bytes of received messages it holds at once before its connections
    /// stop reading. The round's budget is its own, so no other task's clients can exhaust it.
    let minimumBudgetBytes: Int

    init(
        task: TaskConfiguration, participants: [Participant], logger: Logger, observers: ObserverList = ObserverList(observers: []),
        admitPrivacy: PrivacyAdmission? = nil, journal: (any RoundJournal)? = nil,
        monitor: RoundMonitor? = nil, minimumBudgetBytes: Int = 16 << 20
    ) {
        self.minimumBudgetBytes = minimumBudgetBytes
        self.task = task
        self.participants = participants
        self.logger = logger
        self.observers = observers
        self.admitPrivacy = admitPrivacy
        self.journal = journal
        self.monitor = monitor
        origin = clock.now
    }

    private var now: ProtocolInstant {
        let (seconds, attoseconds) = (clock.now - origin).components
        return ProtocolInstant(nanoseconds: UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
    }

    /// Runs the round to its end; cancelling the task aborts the round cleanly (graceful shutdown).
    func run() async -> RoundRecord {
        var random = SystemRandom()
        let count = participants.count
        guard let roundID = RoundID(bytes: random.bytes(16)) else { preconditionFailure("16 random bytes") }
        var record = RoundRecord(
            task: task.name, roundID: roundID, parameters: placeholderParameters(roundID), sum: nil, survivors: [],
            survivorIdentities: [], abortReason: nil, phaseSeconds: [:], phaseCounts: [:], droppedPerPhase: [:],
            wallSeconds: 0)
        let plan: (graph: GraphShape, threshold: Int, minimumSurvivors: Int)
        do {
            plan = try task.plan(clientCount: count)
        } catch {
            let reason = AbortReason(.parametersRejected, error.description)
            record.abortReason = reason
            journal?.finished(record)
            notifyAbort(roundID: roundID, reason: reason)
            return record
        }
        var noise = NoiseParameters.none
        if let admitPrivacy {
            switch await admitPrivacy(roundID, plan.minimumSurvivors, count) {
            case let .success(admitted):
                noise = admitted
            case let .failure(reason):
                record.abortReason = reason
                journal?.finished(record)
                notifyAbort(roundID: roundID, reason: reason)
                return record
            }
        }
        let parameters = RoundParameters(
            roundID: roundID, taskName: task.name, dimension: UInt32(task.dimension), bits: UInt8(task.bits),
            maximumInput: task.maximumInput, graph: plan.graph, threshold: UInt32(plan.threshold),
            minimumSurvivors: UInt32(plan.minimumSurvivors), mode: task.mode, invitedCount: UInt32(count),
            nonce: random.bytes(32), noise: noise)
        record.parameters = parameters
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for (offset, participant) in participants.enumerated() {
            roster[ParticipantIndex(offset + 1)] = RosterEntry(identity: participant.identity)
        }
        var machine: CoordinatorStateMachine
        do {
            machine = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
                parameters: parameters, roster: roster, timeouts: task.timeouts, noiseSource: SystemRandom()))
        } catch {
            let reason = AbortReason(.parametersRejected, error.description)
            record.abortReason = reason
            journal?.finished(record)
            notifyAbort(roundID: roundID, reason: reason)
            return record
        }

        var logger = self.logger
        logger[metadataKey: "round"] = "\(roundID)"
        observers.emit(.roundStarting(
            task: task.name, roundID: roundID, parameters: parameters, identities: participants.map { "\($0.identity)" }))
        logger.info("round starting", metadata: [
            "clients": "\(count)", "graph": "\(plan.graph)", "threshold": "\(plan.threshold)",
            "mode": "\(task.mode)", "dimension": "\(task.dimension)",
        ])

        // The round's own inbound budget: at least eight of its largest messages, so a few clients that announce a
        // message and stall (each holds its reservation until its body deadline or the phase's) cannot hold it all.
        let budget = ByteBudget(limit: max(minimumBudgetBytes, 8 * parameters.largestClientMessage))
        let (events, sink) = AsyncStream.makeStream(of: RoundEvent.self)
        for (offset, participant) in participants.enumerated() {
            participant.attach(index: ParticipantIndex(offset + 1), events: sink)
        }
        let start = clock.now
        var phaseStart = start
        var currentPhase: RoundPhase?
        var finished = false
        var recordPublished = false

        // The round's final figures, then its publication: called once, when the round has ended and before the
        // outcome goes out, so a client never hears of a result the record does not have.
        func publish() {
            guard !recordPublished else { return }
            recordPublished = true
            if let currentPhase { record.phaseSeconds[currentPhase] = (clock.now - phaseStart).seconds }
            record.wallSeconds = (clock.now - start).seconds
            record.survivorIdentities = record.survivors.map { "\(participants[Int($0) - 1].identity)" }
            journal?.finished(record)
        }

        // The ticker wakes the loop at each phase deadline.
        let ticker = Task { [clock] in
            while !Task.isCancelled {
                try? await clock.sleep(for: .milliseconds(100))
                sink.yield(.tick)
            }
        }
        defer { ticker.cancel() }

        // Record first, then tell: phase openings, drops and the result reach the journal and the observers before
        // the messages that let clients act on them, so after a crash the record is never behind the clients.
        func perform(_ actions: [CoordinatorAction]) {
            var failure: String?
            for action in actions {
                switch action {
                case .send:
                    continue
                case let .phaseStarted(phase, participantCount, _):
                    do {
                        try journal?.phaseStarted(roundID: roundID, phase: phase, participants: participantCount)
                    } catch {
                        logger.error("could not record the phase; aborting the round", metadata: ["error": "\(error)"])
                        failure = "the coordinator could not record the round's progress"
                        continue
                    }
                    if let currentPhase { record.phaseSeconds[currentPhase] = (clock.now - phaseStart).seconds }
                    // Before the phase's requests go out: from now on each participant may send this phase's
                    // message (or an abort) and nothing larger.
                    let allowance = ReceiveAllowance(maximumBytes: parameters.largestClientMessage(in: phase), budget: budget)
                    for participant in participants { participant.allow(allowance) }
                    currentPhase = phase
                    phaseStart = clock.now
                    observers.emit(.phaseStarted(task: task.name, roundID: roundID, phase: phase, participants: participantCount))
                    logger.debug("phase started", metadata: ["phase": "\(phase)", "participants": "\(participantCount)"])
                case let .participantDropped(index, phase, reason):
                    // Out of the round for good (there is no resumption): close its connection, which also returns
                    // any reservation a message it started still holds.
                    participants[Int(index) - 1].finish()
                    record.droppedPerPhase[phase, default: 0] += 1
                    observers.emit(.participantDropped(
                        task: task.name, roundID: roundID, identity: "\(participants[Int(index) - 1].identity)",
                        phase: phase, reason: "\(reason)"))
                    logger.info("participant dropped", metadata: [
                        "participant": "\(index)", "identity": "\(participants[Int(index) - 1].identity)",
                        "phase": "\(phase)", "reason": "\(logSafe("\(reason)"))",
                    ])
                case let .inconsistentShares(owner, holders):
                    logger.warning("shares off the polynomial", metadata: ["owner": "\(owner)", "holders": "\(holders)"])
                case let .completed(result):
                    record.sum = result.sum.values
                    record.survivors = result.survivors
                    record.phaseCounts = result.phaseCounts
                    record.survivorIdentities = result.survivors.map { "\(participants[Int($0) - 1].identity)" }
                    finished = true
                    do {
                        try journal?.releasing(record)
                    } catch {
                        logger.error("could not store the result; withholding it", metadata: ["error": "\(error)"])
                        record.sum = nil
                        record.abortReason = AbortReason(.cancelled, "the coordinator could not store the result")
                        record.abortPhase = currentPhase
                        failure = "the coordinator could not store the result"
                    }
                case let .aborted(reason):
                    record.abortReason = reason
                    record.abortPhase = currentPhase
                    finished = true
                }
            }
            if let failure {
                if record.abortReason != nil, machine.isFinished {
                    // Completed but not stored: the clients are told it aborted.
                    publish()
                    if let reason = record.abortReason { notifyAbort(roundID: roundID, reason: reason) }
                } else {
                    perform(machine.abort(AbortReason(.cancelled, failure)))
                }
                return
            }
            let outgoing = actions.compactMap { action -> ([UInt8], [ParticipantIndex])? in
                guard case let .send(message, recipients) = action else { return nil }
                return (message.encoded, recipients)
            }
            for (bytes, recipients) in outgoing { record.bytesSent += bytes.count * recipients.count }
            // The round ended with these actions: publish its record before the outcome leaves.
            if finished { publish() }
            for (bytes, recipients) in outgoing {
                for recipient in recipients {
                    participants[Int(recipient) - 1].send(bytes)
                }
            }
        }

        // The live view for `round watch`: refreshed when a phase opens, else at most every 100 ms (the ticker's
        // period), so a round with thousands of messages per phase does not recompute its progress for each one.
        let startedAt = Date()
        var published: (phase: RoundPhase?, at: ContinuousClock.Instant)?
        func publishProgress() {
            guard let monitor else { return }
            let instant = clock.now
            if let published, published.phase == currentPhase, instant - published.at < .milliseconds(100) { return }
            published = (currentPhase, instant)
            monitor.update(RoundMonitor.Snapshot(
                roundID: roundID, startedAt: startedAt, participants: count, progress: machine.progress,
                droppedPerPhase: record.droppedPerPhase))
        }

        do {
            perform(try machine.start(now: now))
        } catch {
            record.abortReason = AbortReason(.parametersRejected, "\(error)")
            finished = true
        }

        publishProgress()
        var iterator = events.makeAsyncIterator()
        while !finished {
            if Task.isCancelled {
                perform(machine.abort(AbortReason(.cancelled, "the coordinator is shutting down")))
                break
            }
            guard let event = await iterator.next() else { break }
            switch event {
            case let .message(index, bytes, consumed):
                record.bytesReceived += bytes.count
                do {
                    let message = try ClientMessage(decoding: bytes)
                    perform(try machine.handle(message, from: index, now: now))
                } catch let error as WireError {
                    reject(index, for: .malformed(error), machine: &machine, perform: perform)
                } catch let CoordinatorError.participantViolation(_, violation) {
                    reject(index, for: violation, machine: &machine, perform: perform)
                } catch {
                    // A usage error: the driver fed the machine wrongly. Never the participant's fault, but its
                    // message cannot be processed; drop it as disconnected rather than blame it.
                    logger.error("message could not be processed", metadata: ["participant": "\(index)", "error": "\(error)"])
                    participants[Int(index) - 1].close()
                    perform(machine.participantDisconnected(index, now: now))
                }
                consumed.resume()
            case let .violated(index, violation):
                reject(index, for: violation, machine: &machine, perform: perform)
            case let .disconnected(index):
                perform(machine.participantDisconnected(index, now: now))
            case .tick:
                perform(machine.handleTimeout(now: now))
            }
            if !finished, let progress = machine.progress, progress.isComplete {
                perform(machine.advance(now: now))
            }
            publishProgress()
        }
        monitor?.clear()
        // A round whose loop ended without an outcome (its event stream closed) is published all the same.
        publish()

        // Release everyone: flush the outcome and close; wake any reader still waiting on a consumed message.
        sink.finish()
        for participant in participants { participant.finish() }
        while let leftover = await iterator.next() {
            if case let .message(_, _, consumed) = leftover { consumed.resume() }
        }
        if let reason = record.abortReason {
            logger.warning("round aborted", metadata: ["reason": "\(logSafe("\(reason)"))"])
        } else {
            logger.info("round completed", metadata: [
                "survivors": "\(record.survivors.count)", "seconds": "\(record.wallSeconds)",
            ])
        }
        return record
    }

    /// Drops a participant that broke the protocol: logs the typed reason, closes its connection, and drops it from
    /// the round for that violation (the observers, so the audit log, see the violation, not a disconnection).
    private func reject(
        _ index: ParticipantIndex, for violation: ProtocolViolation, machine: inout CoordinatorStateMachine,
        perform: ([CoordinatorAction]) -> Void
    ) {
        logger.warning("protocol violation; closing the connection", metadata: [
            "participant": "\(index)", "identity": "\(participants[Int(index) - 1].identity)",
            "reason": "\(logSafe("\(violation)"))",
        ])
        participants[Int(index) - 1].close()
        perform(machine.participantViolated(index, violation, now: now))
    }

    private func notifyAbort(roundID: RoundID, reason: AbortReason) {
        let message = CoordinatorMessage.roundOutcome(RoundOutcome(
            roundID: roundID, result: .aborted(code: reason.code.rawValue, reason: reason.detail))).encoded
        for participant in participants {
            participant.send(message)
            participant.finish()
        }
    }

    private func placeholderParameters(_ roundID: RoundID) -> RoundParameters {
        RoundParameters(
            roundID: roundID, taskName: task.name, dimension: UInt32(task.dimension), bits: UInt8(task.bits),
            maximumInput: task.maximumInput, graph: .complete, threshold: 1, minimumSurvivors: 2,
            mode: task.mode, invitedCount: UInt32(participants.count), nonce: [UInt8](repeating: 0, count: 32))
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
