import Foundation
import Logging
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// Gathers the clients that joined one task and runs its rounds back to back.
///
/// A round starts when `maximumClients` are waiting, or when `minimumClients` have waited for the gather window;
/// it takes at most `maximumClients` of them in arrival order. Clients that join during a round wait for the next.
actor TaskScheduler {
    /// The task's name (it never changes).
    nonisolated let name: String
    /// The task's definition; `secagg admin task update` replaces it for the rounds that start afterwards.
    private(set) var task: TaskConfiguration
    /// Whether it takes joins and runs rounds (``TaskState``), as the operator set it.
    private(set) var state: TaskState
    private let logger: Logger
    private let recorder: TaskRecorder
    private let events: ObserverList
    /// The round in flight, for `secagg admin round watch`.
    nonisolated let monitor = RoundMonitor()
    /// An operator asked for a round with whoever waits (at least `minimumClients`), without the gather window.
    private var roundRequested = false
    /// The root's global round the next round is for (admin `startGlobalRound`), and the one of the round in flight.
    private var requestedGlobalRound: GlobalRoundID?
    private var runningGlobalRound: GlobalRoundID?
    private var waiting: [Participant] = []
    /// The participants of the round in flight (empty between rounds).
    private var cohort: [Participant] = []
    /// The least inbound budget each round gets (``CoordinatorSettings/inboundBudgetBytes``).
    private let roundBudgetBytes: Int
    private var waitingIdentities: Set<Ed25519.VerifyingKey> = []
    private var activeIdentities: Set<Ed25519.VerifyingKey> = []
    private var firstWaitStart: ContinuousClock.Instant?
    /// Wakes ``run()`` when something that may start a round changes: a join, an admin request, the gather window.
    private let changed = WakeSignal()
    /// The end of the gather window a timer child already sleeps until.
    private var armedGatherEnd: ContinuousClock.Instant?
    private(set) var completedRounds = 0
    /// The scheduler runs no more rounds (its run ended): joins are refused with `shuttingDown`.
    private var finished = false
    /// The latest rounds' records, newest last (kept for tests and status; bounded by ``trim(_:)``).
    private(set) var history: [RoundRecord] = []
    /// Who waits for the task to have filed a number of rounds (``records(afterFiling:)``).
    private var filingWaiters: [(count: Int, continuation: CheckedContinuation<[RoundRecord], Never>)] = []

    /// Drops the oldest records beyond 100, and beyond 2^20 sum entries (8 MiB) in all, keeping the newest always:
    /// a count alone let a task with large vectors hold a hundred released sums (800 MiB at a million entries).
    static func trim(_ history: inout [RoundRecord], maximumRecords: Int = 100, maximumSumEntries: Int = 1 << 20) {
        var entries = history.reduce(0) { $0 + ($1.sum?.count ?? 0) }
        var drop = 0
        while history.count - drop > 1, history.count - drop > maximumRecords || entries > maximumSumEntries {
            entries -= history[drop].sum?.count ?? 0
            drop += 1
        }
        history.removeFirst(drop)
    }

    /// The task's privacy ledger (nil without DP), as committed to the store.
    var budget: PrivacyBudget? { recorder.budget }

    /// - Throws: ``CoordinatorConfigurationError`` if the task's stored ledger cannot be read or the budget is
    ///   invalid.
    init(
        task: TaskConfiguration, state: TaskState = .active, store: CoordinatorStore, results: ResultWriter?,
        events: ObserverList, roundBudgetBytes: Int = 16 << 20, logger: Logger
    ) throws {
        self.task = task
        name = task.name
        self.state = state
        self.events = events
        self.roundBudgetBytes = roundBudgetBytes
        var logger = logger
        logger[metadataKey: "task"] = "\(task.name)"
        self.logger = logger
        recorder = try TaskRecorder(task: task, store: store, export: results, events: events, logger: logger)
    }

    /// Charges the budget for a release by this cohort before the round starts, or refuses the round.
    func admit(roundID: RoundID, minimumSurvivors: Int, clients: Int) -> Result<NoiseParameters, AbortReason> {
        guard let privacy = task.privacy, budget != nil else { return .success(.none) }
        let calibration: PrivacyCalibration
        let noise: NoiseParameters
        do {
            (calibration, noise) = try privacy.noise(
                dimension: task.dimension, minimumSurvivors: minimumSurvivors, clients: clients)
        } catch {
            return .failure(AbortReason(.parametersRejected, "cannot calibrate the noise: \(error)"))
        }
        let charged: (entry: BudgetEntry, ledger: PrivacyBudget)?
        do {
            charged = try recorder.charge(
                roundID: roundID, calibration: calibration, clip: privacy.l2Sensitivity, bits: task.bits)
        } catch let error as StoreError {
            logger.error("round refused: the privacy charge could not be stored", metadata: ["error": "\(error)"])
            return .failure(AbortReason(.cancelled, "the coordinator could not record the privacy charge"))
        } catch {
            logger.warning("round refused: privacy budget", metadata: ["reason": "\(error)"])
            events.emit(.budgetRefused(task: task.name, roundID: roundID, reason: "\(error)"))
            return .failure(AbortReason(.budgetExhausted, "\(error)"))
        }
        guard let (entry, ledger) = charged else { return .success(.none) }
        recorder.exportLedger()
        events.emit(.privacyCharged(task: task.name, roundID: roundID, entry: entry, ledger: ledger))
        // ε is add/remove (what the ledger charges); the replace-one figure and the trust assumption go with it.
        let statement = try? PrivacyStatement(calibration)
        logger.info("privacy charged", metadata: [
            "epsilon": "\(calibration.epsilonPerRelease)", "rho": "\(calibration.rhoPerRelease)",
            "penalty": "\(calibration.curvePerRelease.penalty)", "accountant": "\(calibration.accountant.rawValue)",
            "sigma": "\(calibration.sigma)", "spent_epsilon": "\(ledger.epsilonSpent)",
            "neighbouring": "\(NeighbouringRelation.addOrRemove)",
            "epsilon_replace_one": "\(statement.map { "\($0.epsilonPerRoundReplaceOne)" } ?? "unknown")",
            "assumes": "\(statement?.assumption ?? "")",
        ])
        for warning in calibration.warnings {
            logger.notice("privacy calibration", metadata: ["round": "\(roundID)", "note": "\(warning)"])
        }
        return .success(noise)
    }

    /// Why a join was not queued.
    enum Refusal {
        /// The identity already waits for, or takes part in, a round of this task.
        case alreadyJoined
        /// The queue holds ``TaskConfiguration/maximumWaiting`` clients.
        case queueFull(limit: Int)
        /// The task runs no rounds now (`reason` says why: paused, retired, its rounds done, the coordinator
        /// stopping); sent as the spec's `shuttingDown` (SPEC §4.9: the client may try again later).
        case notRunning(reason: String)
    }

    /// Adds a joined client to the queue, or says why not.
    func enqueue(_ participant: Participant) -> Refusal? {
        if let reason = notRunningReason { return .notRunning(reason: reason) }
        guard !waitingIdentities.contains(participant.identity), !activeIdentities.contains(participant.identity) else {
            return .alreadyJoined
        }
        let limit = task.maximumWaiting ?? 4 * task.maximumClients
        guard waiting.count < limit else { return .queueFull(limit: limit) }
        waiting.append(participant)
        waitingIdentities.insert(participant.identity)
        if firstWaitStart == nil { firstWaitStart = ContinuousClock.now }
        changed.wake()
        return nil
    }

    /// Why joins are refused now, or nil while the task takes them.
    private var notRunningReason: String? {
        switch state {
        case .paused: return "task '\(name)' is paused by the operator; try again later"
        case .retired: return "task '\(name)' is retired and runs no more rounds"
        case .active: return finished ? "task '\(name)' runs no more rounds: the coordinator is stopping" : nil
        }
    }

    /// Pauses the task: no join is taken and no round starts (a round in flight finishes); the clients waiting
    /// are released. The caller records the state in the store first.
    func pause() {
        guard state == .active else { return }
        state = .paused
        releaseWaiting()
        changed.wake()
    }

    /// Makes a paused task take joins and run rounds again.
    func resume() {
        guard state == .paused else { return }
        state = .active
        changed.wake()
    }

    /// Retires the task: like a pause, for good; the scheduler's run ends once a round in flight has finished.
    func retire() {
        state = .retired
        releaseWaiting()
        changed.wake()
    }

    /// Replaces the task's definition for the rounds that start from now (the round in flight keeps its own).
    ///
    /// - Parameter epsilon: the new total ε of the privacy budget, if it changes; committed to the store before
    ///   anything else changes.
    /// - Returns: the ledger under its new limit, if it changed.
    /// - Throws: `AccountingError` if the new budget is below what is spent; ``StoreError`` if it cannot be stored
    ///   (nothing changed then).
    func update(to new: TaskConfiguration) throws -> PrivacyBudget? {
        precondition(new.name == name, "a task keeps its name")
        var changed: PrivacyBudget?
        if let privacy = new.privacy, privacy.budgetEpsilon != task.privacy?.budgetEpsilon {
            changed = try recorder.changeBudget(epsilon: privacy.budgetEpsilon)
        }
        task = new
        self.changed.wake()
        return changed
    }

    /// Removes a client whose connection ended while it was waiting.
    func remove(_ participant: Participant) {
        guard let position = waiting.firstIndex(where: { $0 === participant }) else { return }
        waiting.remove(at: position)
        waitingIdentities.remove(participant.identity)
        if waiting.isEmpty { firstWaitStart = nil }
    }

    /// Takes a revoked identity out: a waiting client is removed from the queue and its connection closed; a
    /// client in the round in flight is disconnected, which the round treats as a dropout of the current phase
    /// (SPEC §4.9: if its masked input was already received, that input stays in the sum).
    ///
    /// - Returns: where the identity was found: "queue", "round", or nil.
    func revoke(_ identity: Ed25519.VerifyingKey) -> String? {
        if let position = waiting.firstIndex(where: { $0.identity == identity }) {
            let participant = waiting.remove(at: position)
            waitingIdentities.remove(identity)
            if waiting.isEmpty { firstWaitStart = nil }
            participant.send(JoinResponse(result: .refused(.revoked, reason: "identity \(identity) was revoked")).encoded)
            participant.finish()
            return "queue"
        }
        if let participant = cohort.first(where: { $0.identity == identity }) {
            participant.disconnect()
            return "round"
        }
        return nil
    }

    /// Number of clients waiting for a round.
    var waitingCount: Int { waiting.count }

    /// Starts a round with the clients waiting now, without waiting for the gather window (admin `round start`),
    /// bound to a root's global round when `globalRound` is given (admin `startGlobalRound`).
    ///
    /// - Returns: nil if the round will start, else why not.
    func requestRound(globalRound: GlobalRoundID? = nil) -> String? {
        if let globalRound, let reason = refusalOfGlobalRound(globalRound) { return reason }
        guard waiting.count >= task.minimumClients else {
            return "only \(waiting.count) \(GlobalRoundAnswer.tooFewClientsWaiting) '\(task.name)'; a round needs at least \(task.minimumClients)"
        }
        if let globalRound {
            // A request for another global round whose round never started (its clients left before a cohort
            // formed) is replaced: nothing was bound to it or charged, and its root gives up at its deadline. Kept,
            // it would refuse every later global round of the task.
            if let pending = requestedGlobalRound, pending != globalRound {
                logger.notice("a global round's request replaces one whose round never started", metadata: [
                    "global_round": "\(globalRound)", "replaced": "\(pending)",
                ])
            }
            requestedGlobalRound = globalRound
        }
        roundRequested = true
        changed.wake()
        return nil
    }

    /// Why `globalRound` cannot get a round of this task: it has one already (a root retrying gets the same
    /// answer each time, and one global round never counts a task's clients twice).
    private func refusalOfGlobalRound(_ globalRound: GlobalRoundID) -> String? {
        if runningGlobalRound == globalRound {
            return "task '\(task.name)' is running its round for global round \(globalRound)"
        }
        guard let existing = try? recorder.store.round(task: task.name, globalRound: globalRound) else { return nil }
        return "task '\(task.name)' already ran round \(existing.roundID) for global round \(globalRound) (\(existing.state))"
    }

    /// Runs rounds until cancelled or until the configured number of rounds is reached. Between rounds it sleeps
    /// until a join, an admin request or the end of the gather window; the gather-window timer is a child task,
    /// cancelled with the scheduler.
    func run() async {
        defer {
            finished = true
            releaseWaiting()
            resumeFilingWaiters()
        }
        await withDiscardingTaskGroup { timers in
            while !Task.isCancelled, state != .retired {
                if let limit = task.rounds, completedRounds >= limit { break }
                guard let cohort = await nextCohort(timers: &timers) else { break }
                await runRound(with: cohort)
            }
            timers.cancelAll()
        }
    }

    /// Runs one round with `cohort` and files its record.
    private func runRound(with cohort: [Participant]) async {
        var admission: PrivacyAdmission?
        if task.privacy != nil {
            admission = { @Sendable [self] roundID, minimum, clients in
                await self.admit(roundID: roundID, minimumSurvivors: minimum, clients: clients)
            }
        }
        self.cohort = cohort
        runningGlobalRound = requestedGlobalRound
        requestedGlobalRound = nil
        let record = await RoundRun(
            task: task, participants: cohort, logger: logger, observers: events, admitPrivacy: admission,
            journal: recorder, monitor: monitor, minimumBudgetBytes: roundBudgetBytes, globalRound: runningGlobalRound
        ).run()
        // The round published its record (store, files, audit) before its outcome went out.
        self.cohort = []
        runningGlobalRound = nil
        for participant in cohort { activeIdentities.remove(participant.identity) }
        completedRounds += 1
        history.append(record)
        Self.trim(&history)
        resumeFilingWaiters()
    }

    /// The task's latest records once it has filed at least `count` rounds since it started (at once if it has), or
    /// when it stops running rounds: an event to await instead of polling ``history``.
    func records(afterFiling count: Int) async -> [RoundRecord] {
        if completedRounds >= count || finished { return history }
        return await withCheckedContinuation { filingWaiters.append((count, $0)) }
    }

    private func resumeFilingWaiters() {
        let ready = filingWaiters.filter { finished || completedRounds >= $0.count }
        filingWaiters.removeAll { finished || completedRounds >= $0.count }
        for waiter in ready { waiter.continuation.resume(returning: history) }
    }

    /// Releases the clients still waiting (this task runs no more rounds for now): each is told, with the join
    /// withdrawn as `shuttingDown` (SPEC §4.9), and its connection closes once that is sent.
    private func releaseWaiting() {
        let withdrawal = JoinResponse(result: .refused(
            .shuttingDown, reason: notRunningReason ?? "task '\(name)' runs no more rounds")).encoded
        for participant in waiting {
            participant.send(withdrawal)
            participant.finish()
        }
        waiting.removeAll()
        waitingIdentities.removeAll()
        firstWaitStart = nil
    }

    /// Waits until a round can start and takes its participants from the queue; nil when cancelled.
    private func nextCohort(timers: inout DiscardingTaskGroup) async -> [Participant]? {
        while !Task.isCancelled, state != .retired {
            guard state == .active else {
                await changed.wait()
                continue
            }
            let gatherEnd = firstWaitStart.map { $0 + task.gatherWindow }
            let requested = roundRequested && waiting.count >= task.minimumClients
            let gathered = waiting.count >= task.maximumClients
                || (waiting.count >= task.minimumClients && (gatherEnd.map { ContinuousClock.now >= $0 } ?? false))
            let ready = requested || (gathered && !task.startsOnRequest)
            if ready {
                let cohort = Array(waiting.prefix(task.maximumClients))
                waiting.removeFirst(cohort.count)
                for participant in cohort {
                    waitingIdentities.remove(participant.identity)
                    activeIdentities.insert(participant.identity)
                }
                firstWaitStart = waiting.isEmpty ? nil : ContinuousClock.now
                roundRequested = false
                return cohort
            }
            // Wake at the end of the gather window (once per window; a timer for a window that no longer applies
            // wakes the loop, which finds nothing to do).
            if let gatherEnd, gatherEnd != armedGatherEnd {
                armedGatherEnd = gatherEnd
                let changed = self.changed
                timers.addTask {
                    try? await Task.sleep(until: gatherEnd, clock: .continuous)
                    changed.wake()
                }
            }
            await changed.wait()
        }
        return nil
    }
}
