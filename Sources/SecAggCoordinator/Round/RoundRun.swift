import Foundation
import Logging
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggTransport
import SecAggWire
import Synchronization

/// One round of a task, from its cohort to its published record: where a round's life is written, top to bottom.
///
/// 1. ``run()`` plans the round for the cohort (graph, threshold), asks the scheduler for the privacy charge, and
///    builds the ``CoordinatorStateMachine``; a round refused there is published and its clients told why.
/// 2. ``LiveRound`` then feeds the machine the participants' messages, their disconnections and violations, and
///    the phase deadlines (a child task sleeps until the machine's next deadline; nothing polls), and carries out
///    what the machine asks, recording before telling (``RoundJournal``).
/// 3. When the machine finishes, the record is published before the outcome goes out, then every participant is
///    released (its outcome flushed and its connection closed).
///
/// Cancelling the task that runs it aborts the round with `cancelled` (graceful shutdown).
struct RoundRun {
    let task: TaskConfiguration
    let participants: [Participant]
    let logger: Logger
    let observers: ObserverList
    let admitPrivacy: PrivacyAdmission?
    /// Where the round records itself before the clients are told (``RoundJournal``).
    let journal: (any RoundJournal)?
    /// Where the round's live progress is published (admin `round watch`).
    let monitor: RoundMonitor?
    /// The least inbound budget of the round: bytes of received messages it holds at once before its connections
    /// stop reading. The round's budget is its own, so no other task's clients can exhaust it.
    let minimumBudgetBytes: Int
    /// The root's global round this round is for (admin `startGlobalRound`), recorded before anything else.
    let globalRound: GlobalRoundID?

    init(
        task: TaskConfiguration, participants: [Participant], logger: Logger,
        observers: ObserverList = ObserverList(observers: []), admitPrivacy: PrivacyAdmission? = nil,
        journal: (any RoundJournal)? = nil, monitor: RoundMonitor? = nil, minimumBudgetBytes: Int = 16 << 20,
        globalRound: GlobalRoundID? = nil
    ) {
        self.globalRound = globalRound
        self.task = task
        self.participants = participants
        self.logger = logger
        self.observers = observers
        self.admitPrivacy = admitPrivacy
        self.journal = journal
        self.monitor = monitor
        self.minimumBudgetBytes = minimumBudgetBytes
    }

    /// Runs the round to its end and returns its record (published before any client heard the outcome).
    func run() async -> RoundRecord {
        var random = SystemRandom()
        guard let roundID = RoundID(bytes: random.bytes(16)) else { preconditionFailure("16 random bytes") }
        var record = RoundRecord(
            task: task.name, roundID: roundID, parameters: placeholderParameters(roundID), sum: nil, survivors: [],
            survivorIdentities: [], abortReason: nil, phaseSeconds: [:], phaseCounts: [:], droppedPerPhase: [:],
            wallSeconds: 0)
        record.encoder = task.encoder
        record.globalRound = globalRound
        if let globalRound {
            do {
                try journal?.boundToGlobalRound(globalRound, roundID: roundID)
            } catch {
                return refuse(record, AbortReason(
                    .cancelled, "the coordinator could not record the round for global round \(globalRound): \(error)"))
            }
        }
        let plan: (graph: GraphShape, threshold: Int, minimumSurvivors: Int)
        do {
            plan = try task.plan(clientCount: participants.count)
        } catch {
            return refuse(record, AbortReason(.parametersRejected, error.description))
        }
        var noise = NoiseParameters.none
        if let admitPrivacy {
            switch await admitPrivacy(roundID, plan.minimumSurvivors, participants.count) {
            case let .success(admitted): noise = admitted
            case let .failure(reason): return refuse(record, reason)
            }
        }
        let parameters = RoundParameters(
            roundID: roundID, taskName: task.name, dimension: UInt32(task.dimension), bits: UInt8(task.bits),
            maximumInput: task.maximumInput, graph: plan.graph, threshold: UInt32(plan.threshold),
            minimumSurvivors: UInt32(plan.minimumSurvivors), mode: task.mode, invitedCount: UInt32(participants.count),
            nonce: random.bytes(32), noise: noise)
        record.parameters = parameters
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for (offset, participant) in participants.enumerated() {
            roster[ParticipantIndex(offset + 1)] = RosterEntry(identity: participant.identity, endorsement: participant.endorsement)
        }
        let machine: CoordinatorStateMachine
        do {
            machine = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
                parameters: parameters, roster: roster, timeouts: task.timeouts, noiseSource: SystemRandom()))
        } catch {
            return refuse(record, AbortReason(.parametersRejected, error.description))
        }
        let identities = participants.map { "\($0.identity)" }
        do {
            try journal?.roundStarting(parameters: parameters, identities: identities, encoder: record.encoder)
        } catch {
            logger.error("could not record the round's start; not running it", metadata: ["error": "\(error)"])
            return refuse(record, AbortReason(.cancelled, "the coordinator could not record the round"))
        }
        observers.emit(.roundStarting(task: task.name, roundID: roundID, parameters: parameters, identities: identities))
        var logger = self.logger
        logger[metadataKey: "round"] = "\(roundID)"
        logger.info("round starting", metadata: [
            "clients": "\(participants.count)", "graph": "\(plan.graph)", "threshold": "\(plan.threshold)",
            "mode": "\(task.mode)", "dimension": "\(task.dimension)",
        ])
        let live = LiveRound(run: self, machine: machine, record: record, logger: logger)
        return await live.run()
    }

    /// Ends a round that never started: its record is published, then every participant hears why and is released.
    private func refuse(_ record: RoundRecord, _ reason: AbortReason) -> RoundRecord {
        var record = record
        record.abortReason = reason
        journal?.finished(record)
        let message = CoordinatorMessage.roundOutcome(RoundOutcome(
            roundID: record.roundID, result: .aborted(code: reason.code.rawValue, reason: reason.detail))).encoded
        for participant in participants {
            participant.send(message)
            participant.finish()
        }
        logger.warning("round refused", metadata: ["reason": "\(logSafe("\(reason)"))"])
        return record
    }

    /// The parameters a refused round is recorded with (it never had real ones).
    private func placeholderParameters(_ roundID: RoundID) -> RoundParameters {
        RoundParameters(
            roundID: roundID, taskName: task.name, dimension: UInt32(task.dimension), bits: UInt8(task.bits),
            maximumInput: task.maximumInput, graph: .complete, threshold: 1, minimumSurvivors: 2,
            mode: task.mode, invitedCount: UInt32(participants.count), nonce: [UInt8](repeating: 0, count: 32))
    }
}

/// A round that started: its state machine and everything kept around it while it runs. Owned by the one task
/// that runs the round; nothing else touches it.
private final class LiveRound {
    private let run: RoundRun
    private var machine: CoordinatorStateMachine
    private var record: RoundRecord
    private let logger: Logger
    private var participants: [Participant] { run.participants }
    private var parameters: RoundParameters { record.parameters }

    private let clock = ContinuousClock()
    /// Protocol time zero: the machine's instants are nanoseconds since this.
    private let origin: ContinuousClock.Instant
    private let startedAt = Date()
    /// The round's own inbound budget (``RoundRun/minimumBudgetBytes``, at least eight of its largest messages).
    private let budget: ByteBudget

    private var currentPhase: RoundPhase?
    private var phaseStart: ContinuousClock.Instant
    /// The machine completed or aborted (or the round must end for a local failure).
    private var ended = false
    private var published = false
    /// Bytes of the messages the connections' writers built themselves (the ShareKeysRequests), added to
    /// ``RoundRecord/bytesSent`` when the record is published: counted as they are built, so the round's own task
    /// never builds a request only to measure it.
    private let builtBytes = ByteCount()
    /// The deadline a timer child sleeps until (the latest armed).
    private var armedDeadline: ProtocolInstant?
    /// When the live view for `round watch` was last refreshed, and in which phase.
    private var progressShown: (phase: RoundPhase?, at: ContinuousClock.Instant)?
    /// The live view is behind the machine (a refresh was skipped to keep within one per 100 ms).
    private var progressStale = false
    /// A timer child will deliver ``RoundEvent/progressDue``.
    private var progressRefreshArmed = false

    init(run: RoundRun, machine: CoordinatorStateMachine, record: RoundRecord, logger: Logger) {
        self.run = run
        self.machine = machine
        self.record = record
        self.logger = logger
        origin = clock.now
        phaseStart = origin
        // At least eight of its largest messages, so a few clients that announce a message and stall (each holds its
        // reservation until its body deadline or the phase's) cannot hold it all.
        budget = ByteBudget(limit: max(run.minimumBudgetBytes, 8 * record.parameters.largestClientMessage))
    }

    /// Runs the machine until it finishes, then publishes the record and releases the participants.
    func run() async -> RoundRecord {
        let (events, sink) = AsyncStream.makeStream(of: RoundEvent.self)
        for (offset, participant) in participants.enumerated() {
            participant.attach(index: ParticipantIndex(offset + 1), events: sink)
        }
        var iterator = events.makeAsyncIterator()
        await withDiscardingTaskGroup { timers in
            await withTaskCancellationHandler {
                do {
                    perform(try machine.start(now: now))
                } catch {
                    record.abortReason = AbortReason(.parametersRejected, "\(error)")
                    ended = true
                }
                showProgress()
                while !ended {
                    armTimers(in: &timers, sink: sink)
                    guard let event = await iterator.next() else { break }
                    handle(event)
                }
            } onCancel: {
                sink.yield(.cancelled)
            }
            timers.cancelAll()
        }
        // Cancelled while waiting for an event: the stream may end (its iterator returns nil on cancellation)
        // before `.cancelled` is delivered. The round aborts all the same, and its clients are told.
        if !ended, Task.isCancelled {
            perform(machine.abort(AbortReason(.cancelled, "the coordinator is shutting down")))
        }
        run.monitor?.clear()
        // A round whose event stream closed without an outcome is published all the same.
        publish()
        // Release everyone: flush each outcome and close; wake any connection still waiting on a consumed message
        // (the stream is finished, so this drains what was already queued and ends).
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

    // MARK: Events in

    /// The machine's time: nanoseconds since the round started.
    private var now: ProtocolInstant {
        let (seconds, attoseconds) = (clock.now - origin).components
        return ProtocolInstant(
            nanoseconds: UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000))
    }

    /// Feeds one event to the machine and carries out what it answers; closes a phase everyone has answered.
    private func handle(_ event: RoundEvent) {
        switch event {
        case let .message(index, bytes, consumed):
            record.bytesReceived += bytes.count
            do {
                let message = try ClientMessage(decoding: bytes)
                perform(try machine.handle(message, from: index, now: now))
            } catch let error as WireError {
                reject(index, for: .malformed(error))
            } catch let CoordinatorError.participantViolation(_, violation) {
                reject(index, for: violation)
            } catch {
                // A usage error: the round fed the machine wrongly. Never the participant's fault, but its message
                // cannot be processed; drop it as disconnected rather than blame it.
                logger.error("message could not be processed", metadata: ["participant": "\(index)", "error": "\(error)"])
                participants[Int(index) - 1].close()
                perform(machine.participantDisconnected(index, now: now))
            }
            consumed.resume()
        case let .violated(index, violation):
            reject(index, for: violation)
        case let .disconnected(index):
            perform(machine.participantDisconnected(index, now: now))
        case .deadline:
            perform(machine.handleTimeout(now: now))
        case .cancelled:
            perform(machine.abort(AbortReason(.cancelled, "the coordinator is shutting down")))
            ended = true
        case .progressDue:
            progressRefreshArmed = false
        }
        if !ended, let progress = machine.progress, progress.isComplete {
            perform(machine.advance(now: now))
        }
        showProgress()
    }

    /// Drops a participant that broke the protocol: logs the typed reason, closes its connection, and drops it from
    /// the round for that violation (the observers, so the audit log, see the violation, not a disconnection).
    private func reject(_ index: ParticipantIndex, for violation: ProtocolViolation) {
        logger.warning("protocol violation; closing the connection", metadata: [
            "participant": "\(index)", "identity": "\(participants[Int(index) - 1].identity)",
            "reason": "\(logSafe("\(violation)"))",
        ])
        participants[Int(index) - 1].close()
        perform(machine.participantViolated(index, violation, now: now))
    }

    /// Makes sure timer children wake the round at the machine's next deadline and, when the live view skipped a
    /// refresh, 100 ms later to catch it up. Each deadline is armed once; a timer for a deadline the round has moved
    /// past fires harmlessly (the machine ignores a timeout before its deadline), and every timer is cancelled when
    /// the round ends.
    private func armTimers(in timers: inout DiscardingTaskGroup, sink: AsyncStream<RoundEvent>.Continuation) {
        if let deadline = machine.nextDeadline, deadline != armedDeadline {
            armedDeadline = deadline
            let instant = origin.advanced(by: .nanoseconds(Int64(clamping: deadline.nanoseconds)))
            Self.wake(sink, with: .deadline, at: instant, in: &timers)
        }
        if progressStale, !progressRefreshArmed {
            progressRefreshArmed = true
            Self.wake(sink, with: .progressDue, at: clock.now.advanced(by: .milliseconds(100)), in: &timers)
        }
    }

    /// Adds a timer child that delivers `event` at `instant`, unless the round ends first.
    private static func wake(
        _ sink: AsyncStream<RoundEvent>.Continuation, with event: RoundEvent, at instant: ContinuousClock.Instant,
        in timers: inout DiscardingTaskGroup
    ) {
        timers.addTask {
            do {
                try await ContinuousClock().sleep(until: instant)
                sink.yield(event)
            } catch {
                // Cancelled: the round ended.
            }
        }
    }

    // MARK: Actions out

    /// Carries out the machine's actions, recording before telling: phase openings, drops and the result reach
    /// the journal and the observers before the messages that let clients act on them, so after a crash the record
    /// is never behind the clients. A journal failure aborts the round.
    private func perform(_ actions: [CoordinatorAction]) {
        var failure: String?
        for action in actions {
            switch action {
            case .send, .sendShareKeysRequests:
                continue
            case let .phaseStarted(phase, participantCount, _):
                if !openPhase(phase, participants: participantCount) {
                    failure = "the coordinator could not record the round's progress"
                }
            case let .participantDropped(index, phase, reason):
                drop(index, in: phase, reason: reason)
            case let .inconsistentShares(owner, holders):
                logger.warning("shares off the polynomial", metadata: ["owner": "\(owner)", "holders": "\(holders)"])
            case let .completed(result):
                ended = true
                if !release(result) { failure = "the coordinator could not store the result" }
            case let .aborted(reason):
                record.abortReason = reason
                record.abortPhase = currentPhase
                ended = true
            }
        }
        if let failure {
            if record.abortReason != nil, machine.isFinished {
                // Completed but not stored: the clients are told it aborted.
                publish()
                tellAborted(record.abortReason ?? AbortReason(.cancelled, failure))
            } else {
                perform(machine.abort(AbortReason(.cancelled, failure)))
            }
            return
        }
        var outgoing: [(bytes: [UInt8], recipients: [ParticipantIndex])] = []
        var requests: [ShareKeysRequests] = []
        for action in actions {
            switch action {
            case let .send(message, recipients): outgoing.append((message.encoded, recipients))
            case let .sendShareKeysRequests(batch): requests.append(batch)
            default: break
            }
        }
        for (bytes, recipients) in outgoing { record.bytesSent += bytes.count * recipients.count }
        // The round ended with these actions: publish its record before the outcome leaves.
        if ended { publish() }
        for (bytes, recipients) in outgoing {
            for recipient in recipients { participants[Int(recipient) - 1].send(bytes) }
        }
        // Each request is built and encoded by its connection's writer as it goes out: a thousand of them held at
        // once were the largest allocation of a 1,000-client round.
        let builtBytes = self.builtBytes
        for batch in requests {
            for recipient in batch.recipients {
                participants[Int(recipient) - 1].send {
                    let bytes = CoordinatorMessage.shareKeysRequest(batch.request(for: recipient)).encoded
                    builtBytes.add(bytes.count)
                    return bytes
                }
            }
        }
    }

    /// Records a phase opening and lets every participant send that phase's message (or an abort) and nothing
    /// larger, before the phase's requests go out.
    ///
    /// - Returns: false if the journal could not record it (the round must abort).
    private func openPhase(_ phase: RoundPhase, participants count: Int) -> Bool {
        do {
            try run.journal?.phaseStarted(roundID: record.roundID, phase: phase, participants: count)
        } catch {
            logger.error("could not record the phase; aborting the round", metadata: ["error": "\(error)"])
            return false
        }
        if let currentPhase { record.phaseSeconds[currentPhase] = (clock.now - phaseStart).seconds }
        let allowance = ReceiveAllowance(maximumBytes: parameters.largestClientMessage(in: phase), budget: budget)
        for participant in participants { participant.allow(allowance) }
        currentPhase = phase
        phaseStart = clock.now
        run.observers.emit(.phaseStarted(task: run.task.name, roundID: record.roundID, phase: phase, participants: count))
        logger.debug("phase started", metadata: ["phase": "\(phase)", "participants": "\(count)"])
        return true
    }

    /// A participant is out of the round for good (there is no resumption): its connection is closed, which also
    /// returns any reservation a message it started still holds.
    private func drop(_ index: ParticipantIndex, in phase: RoundPhase, reason: DropReason) {
        let participant = participants[Int(index) - 1]
        // A client dropped while still connected learns why (SPEC §4.11) before its connection closes.
        if let notice = reason.notice(roundID: record.roundID, phase: phase) { participant.send(notice.encoded) }
        participant.finish()
        record.droppedPerPhase[phase, default: 0] += 1
        run.observers.emit(.participantDropped(
            task: run.task.name, roundID: record.roundID, identity: "\(participant.identity)", phase: phase,
            reason: reason))
        logger.info("participant dropped", metadata: [
            "participant": "\(index)", "identity": "\(participant.identity)", "phase": "\(phase)",
            "reason": "\(logSafe("\(reason)"))",
        ])
    }

    /// Commits a completed round's sum to the journal.
    ///
    /// - Returns: false if it could not be stored: the sum is withheld and the round recorded as aborted.
    private func release(_ result: SecAggProtocol.RoundResult) -> Bool {
        record.sum = result.sum.values
        record.survivors = result.survivors
        record.phaseCounts = result.phaseCounts
        record.survivorIdentities = result.survivors.map { "\(participants[Int($0) - 1].identity)" }
        do {
            try run.journal?.releasing(record)
            return true
        } catch {
            logger.error("could not store the result; withholding it", metadata: ["error": "\(error)"])
            record.sum = nil
            record.abortReason = AbortReason(.cancelled, "the coordinator could not store the result")
            record.abortPhase = currentPhase
            return false
        }
    }

    /// The round's final figures, then its publication: once, when the round has ended and before the outcome goes
    /// out, so a client never hears of a result the record does not have.
    private func publish() {
        guard !published else { return }
        published = true
        if let currentPhase { record.phaseSeconds[currentPhase] = (clock.now - phaseStart).seconds }
        record.wallSeconds = (clock.now - origin).seconds
        record.bytesSent += builtBytes.total
        record.survivorIdentities = record.survivors.map { "\(participants[Int($0) - 1].identity)" }
        run.journal?.finished(record)
    }

    /// Tells every participant the round aborted (when the machine's own outcome must not go out).
    private func tellAborted(_ reason: AbortReason) {
        let message = CoordinatorMessage.roundOutcome(RoundOutcome(
            roundID: record.roundID, result: .aborted(code: reason.code.rawValue, reason: reason.detail))).encoded
        for participant in participants {
            participant.send(message)
            participant.finish()
        }
    }

    /// Refreshes the live view for `round watch`: when a phase opens, else at most every 100 ms, so a round with
    /// thousands of messages per phase does not recompute its progress for each one; a skipped refresh is caught
    /// up by a timer (``armTimers(in:sink:)``).
    private func showProgress() {
        guard let monitor = run.monitor else { return }
        let instant = clock.now
        if let progressShown, progressShown.phase == currentPhase, instant - progressShown.at < .milliseconds(100) {
            progressStale = true
            return
        }
        progressShown = (currentPhase, instant)
        progressStale = false
        monitor.update(RoundMonitor.Snapshot(
            roundID: record.roundID, startedAt: startedAt, participants: participants.count,
            progress: machine.progress, droppedPerPhase: record.droppedPerPhase))
    }
}

/// A byte count that connection writers add to from any thread.
private final class ByteCount: Sendable {
    private let value = Atomic<Int>(0)

    func add(_ bytes: Int) { value.add(bytes, ordering: .relaxed) }

    var total: Int { value.load(ordering: .relaxed) }
}
