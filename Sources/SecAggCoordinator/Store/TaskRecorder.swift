import Foundation
import Logging
import NIOConcurrencyHelpers
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// One task's durable record: its privacy ledger (the store is the source of truth; the JSON file in the results
/// directory is an export), the release committed before clients are told, each round's final row, and the
/// optional JSON result files.
///
/// Every ledger change is committed to the store first and applied in memory only once committed, so the ledger
/// in memory never runs ahead of the one on disk.
final class TaskRecorder: RoundJournal {
    let task: TaskConfiguration
    let store: CoordinatorStore
    let export: ResultWriter?
    /// Who hears of settled ledgers and finished rounds (the audit log, metrics).
    let events: ObserverList
    private let logger: Logger
    private let ledger: NIOLockedValueBox<PrivacyBudget?>

    /// Loads the task's ledger from the store; on the first start with a store, imports `privacy-ledger.json` from
    /// the results directory if there is one, else opens a fresh budget.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` if the ledger cannot be read or the budget is invalid.
    init(
        task: TaskConfiguration, store: CoordinatorStore, export: ResultWriter?, events: ObserverList = ObserverList(observers: []),
        logger: Logger
    ) throws {
        self.task = task
        self.store = store
        self.export = export
        self.events = events
        self.logger = logger
        var budget: PrivacyBudget?
        if let privacy = task.privacy {
            do {
                if let stored = try store.ledger(task: task.name) {
                    budget = stored
                } else if let saved = try export?.loadLedger(task: task.name) {
                    budget = saved
                    try store.saveLedger(saved, task: task.name)
                    logger.notice("imported the privacy ledger file into the store", metadata: [
                        "entries": "\(saved.entries.count)",
                    ])
                } else {
                    let fresh = try PrivacyBudget(epsilon: privacy.budgetEpsilon, delta: privacy.delta)
                    try store.saveLedger(fresh, task: task.name)
                    budget = fresh
                }
            } catch let error as CoordinatorConfigurationError {
                throw error
            } catch {
                throw CoordinatorConfigurationError(problems: ["task '\(task.name)': \(error)"])
            }
        }
        ledger = NIOLockedValueBox(budget)
        // The export mirrors the store from the start (after a crash the file may lag behind the store's ledger).
        exportLedger()
    }

    /// The task's ledger as committed (nil without DP).
    var budget: PrivacyBudget? { ledger.withLockedValue { $0 } }

    /// Charges a round and commits the charge (with the round's row) before it returns.
    ///
    /// - Returns: the entry and the ledger after the charge.
    /// - Throws: `AccountingError` if the round does not fit (nothing recorded); ``StoreError`` if the commit
    ///   failed (nothing recorded; the round must not start).
    func charge(roundID: RoundID, calibration: PrivacyCalibration, clip: Double, bits: Int) throws
        -> (entry: BudgetEntry, ledger: PrivacyBudget)?
    {
        try ledger.withLockedValue { current -> (entry: BudgetEntry, ledger: PrivacyBudget)? in
            guard var next = current else { return nil }
            let entry = try next.charge(roundID: "\(roundID)", calibration: calibration, clip: clip, bits: bits)
            try store.commitCharge(next, task: task.name, roundID: roundID)
            current = next
            return (entry, next)
        }
    }

    /// Puts the ledger under a new total ε (an operator's `task update`): committed to the store, then applied in
    /// memory and exported.
    ///
    /// - Returns: the ledger under its new limit.
    /// - Throws: `AccountingError` if the task has no ledger or ε is below what is spent; ``StoreError`` if the
    ///   commit failed (nothing changed).
    func changeBudget(epsilon: Double) throws -> PrivacyBudget {
        let changed = try ledger.withLockedValue { current -> PrivacyBudget in
            guard let ledger = current else {
                throw AccountingError.invalidParameter(
                    name: "budget_epsilon", value: "\(epsilon)", requirement: "a task with differential privacy")
            }
            let changed = try ledger.withLimit(epsilon: epsilon)
            try store.saveLedger(changed, task: task.name)
            current = changed
            return changed
        }
        exportLedger()
        return changed
    }

    /// Commits the round's row (parameters and roster) before its first request is sent.
    ///
    /// - Throws: ``StoreError``; the round must then not run.
    func boundToGlobalRound(_ globalRound: GlobalRoundID, roundID: RoundID) throws {
        try store.bindGlobalRound(globalRound, task: task.name, roundID: roundID)
    }

    func roundStarting(parameters: RoundParameters, identities: [String], encoder: RealVectorEncoding?) throws {
        try store.recordRoundStarting(task: task.name, parameters: parameters, identities: identities, encoder: encoder)
    }

    /// Commits that a phase opened, before its requests are sent: after a crash, recovery knows whether masked
    /// inputs may have been sent.
    ///
    /// - Throws: ``StoreError``; the round must then abort.
    func phaseStarted(roundID: RoundID, phase: RoundPhase, participants: Int) throws {
        try store.recordPhase(task: task.name, roundID: roundID, phase: phase, participants: participants)
    }

    /// Commits a completed round's released sum, with its ledger release, before the clients are told.
    ///
    /// - Throws: ``StoreError`` or `AccountingError`; the result must then be withheld.
    func releasing(_ record: RoundRecord) throws {
        guard let sum = record.sum else { return }
        let noise: String
        switch record.parameters.noise {
        case .none: noise = "none"
        case .central: noise = "central"
        case .distributed: noise = "distributed"
        }
        try ledger.withLockedValue { current in
            var next = current
            if var settled = next, settled.entry(roundID: "\(record.roundID)")?.status == .charged {
                try settled.recordRelease(roundID: "\(record.roundID)", survivors: record.survivors.count)
                next = settled
            }
            try store.commitRelease(
                task: task.name, roundID: record.roundID, sum: sum, survivorIdentities: record.survivorIdentities,
                noise: noise, ledger: next == current ? nil : next)
            current = next
        }
    }

    /// Publishes a finished round, in this order: final row and ledger settlement (one store transaction), result
    /// file and ledger export (each written, synced and renamed into place), then the `privacy_settled` and
    /// `round_finished` events to the observers (the audit log syncs each record), and finally the mark that it
    /// was published. Called before the round's outcome is sent; a step that fails leaves the mark unset, and the
    /// next start publishes the round again from the store (``republish(_:)``).
    func finished(_ record: RoundRecord) {
        let (settled, stored, exported) = finish(record)
        var delivered = true
        do {
            if let settled { try events.emitDurably(.privacySettled(task: task.name, roundID: record.roundID, ledger: settled)) }
            try events.emitDurably(.roundFinished(record))
        } catch {
            delivered = false
            logger.error("could not record the round's end in the audit log", metadata: ["error": "\(error)"])
        }
        guard stored, exported, delivered else { return }
        do {
            try store.markPublished(roundID: "\(record.roundID)", auditHead: events.auditLog?.head)
        } catch {
            logger.error("could not mark the round published", metadata: ["error": "\(error)"])
        }
    }

    /// Records a finished round: settles its ledger entry if still charged (an abort: refunded unless noised
    /// inputs may have reached the coordinator), commits its final row, then writes the export files.
    ///
    /// - Returns: the ledger after settling, if this round had a ledger entry; whether the store committed the row;
    ///   whether the export files were written.
    private func finish(_ record: RoundRecord) -> (settled: PrivacyBudget?, stored: Bool, exported: Bool) {
        let roundID = "\(record.roundID)"
        var stored = false
        let settled: PrivacyBudget? = ledger.withLockedValue { current in
            guard let before = current, before.entry(roundID: roundID) != nil else {
                stored = commit(record, ledger: nil)
                return nil
            }
            var next = before
            if next.entry(roundID: roundID)?.status == .charged {
                do {
                    if let reason = record.abortReason {
                        let phase = record.abortPhase?.rawValue ?? RoundPhase.advertiseKeys.rawValue
                        try next.recordAbort(
                            roundID: roundID, noisedInputsSent: phase >= RoundPhase.maskedInputCollection.rawValue,
                            reason: reason.description)
                    } else {
                        try next.recordRelease(roundID: roundID, survivors: record.survivors.count)
                    }
                } catch {
                    logger.error("could not settle the privacy ledger", metadata: ["error": "\(error)"])
                }
            }
            stored = commit(record, ledger: next == before ? nil : next)
            if stored { current = next }
            return current
        }
        var exported = true
        if let export {
            do {
                try export.write(PublishedResult(record, finishedAt: Date()))
                if let settled { try export.saveLedger(settled, task: task.name) }
            } catch {
                exported = false
                logger.error("could not write the round's export files", metadata: ["error": "\(error)"])
            }
        }
        return (settled, stored, exported)
    }

    /// Also exports the ledger right after a charge (the JSON file mirrors the store).
    func exportLedger() {
        guard let export, let budget else { return }
        do {
            try export.saveLedger(budget, task: task.name)
        } catch {
            logger.error("could not export the privacy ledger", metadata: ["error": "\(error)"])
        }
    }

    @discardableResult
    private func commit(_ record: RoundRecord, ledger: PrivacyBudget?) -> Bool {
        do {
            try store.commitFinish(RoundSummary(record), ledger: ledger)
            return true
        } catch {
            // The round stays "running" in the store; the next start marks it aborted and settles its entry.
            logger.error("could not store the round's record", metadata: ["error": "\(error)"])
            return false
        }
    }
}
