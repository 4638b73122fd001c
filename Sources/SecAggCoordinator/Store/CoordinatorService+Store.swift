import Foundation
import Logging
import SecAggProtocol
import SecAggWire

extension CoordinatorService {
    /// Opens the configured store (or one in memory), marks the rounds a crash interrupted as aborted and
    /// settles their ledger entries, and adds the configuration's clients.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` naming the store's problem.
    static func openStore(settings: CoordinatorSettings, logger: Logger) throws -> CoordinatorStore {
        do {
            let store = try settings.storePath.map { try CoordinatorStore(path: $0) } ?? CoordinatorStore.inMemory()
            for round in try store.recoverInterruptedRounds(reason: "coordinator restarted") {
                logger.warning("a round interrupted by the restart is marked aborted", metadata: [
                    "task": "\(logSafe(round.task))", "round": "\(round.roundID)",
                    "reached_phase": "\(round.reachedPhase.map { "\($0)" } ?? "none")",
                ])
            }
            let seeded = try store.seed(clients: settings.enrolled)
            for key in seeded.revoked {
                logger.warning("a configured client was revoked by an operator and stays revoked", metadata: [
                    "identity": "\(key)",
                ])
            }
            return store
        } catch let error as StoreError {
            throw CoordinatorConfigurationError(problems: ["store: \(error)"])
        }
    }

    /// The tasks to run, each with its state: the configuration's (saved to the store, replacing any stored task of
    /// the same name), then those created with `secagg admin task create` in earlier runs. Retired tasks are left
    /// out (with a warning when the configuration still lists one); paused ones run paused.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` if the store cannot be written.
    static func storedTasks(
        settings: CoordinatorSettings, store: CoordinatorStore, logger: Logger
    ) throws -> [(task: TaskConfiguration, state: TaskState)] {
        var tasks: [(task: TaskConfiguration, state: TaskState)] = []
        do {
            for task in settings.tasks {
                try store.saveTask(
                    name: task.name, definition: ConfigurationFile.json(ConfigurationFile.definition(of: task)),
                    source: "config")
            }
            let stored = Dictionary(try store.tasks().map { ($0.name, $0) }, uniquingKeysWith: { $1 })
            let configured = Set(settings.tasks.map(\.name))
            for task in settings.tasks {
                let state = stored[task.name]?.state ?? .active
                guard state != .retired else {
                    logger.warning("the configuration lists a retired task; it does not run (remove it from the file)", metadata: [
                        "task": "\(logSafe(task.name))",
                    ])
                    continue
                }
                tasks.append((task, state))
            }
            for stored in stored.values.sorted(by: { $0.name < $1.name })
            where stored.source == "admin" && !configured.contains(stored.name) && stored.state != .retired {
                do {
                    tasks.append((try ConfigurationFile.parseTask(stored.definition).0, stored.state))
                } catch {
                    logger.error("a stored task is invalid and does not run", metadata: [
                        "task": "\(logSafe(stored.name))", "error": "\(error)",
                    ])
                }
            }
        } catch let error as StoreError {
            throw CoordinatorConfigurationError(problems: ["store: \(error)"])
        }
        return tasks
    }
}

extension CoordinatorService {
    /// Publishes the rounds a crash left unpublished (the store committed how they ended, but the result file, the
    /// ledger export or the audit record may be missing): each gets its result file, its task's ledger export and
    /// its `privacy_settled` and `round_finished` records (marked `recovered`) unless the audit log already has
    /// them (the crash came after the record, before the mark), then the published mark. Rounds the restart itself
    /// marked aborted are among them, so every recovered abort and settlement is audited, once.
    ///
    /// - Returns: the rounds published.
    @discardableResult
    static func republish(store: CoordinatorStore, results: ResultWriter?, events: ObserverList, logger: Logger) -> Int {
        let rounds: [StoredRound]
        let audited: AuditIndex?
        do {
            rounds = try store.unpublishedRounds()
            audited = rounds.isEmpty ? nil : try events.auditLog?.currentIndex()
        } catch {
            logger.error("cannot list the rounds to publish; retried at the next start", metadata: ["error": "\(error)"])
            return 0
        }
        var published = 0
        for round in rounds {
            do {
                let record = try RoundRecord(recovering: round, result: try store.result(roundID: round.roundID))
                try results?.write(PublishedResult(record, finishedAt: round.finishedAt ?? Date()))
                if let ledger = try store.ledger(task: round.task), ledger.entry(roundID: round.roundID) != nil {
                    try results?.saveLedger(ledger, task: round.task)
                    if audited?.settledRounds.contains(round.roundID) != true {
                        try events.emitDurably(.privacySettled(task: round.task, roundID: record.roundID, ledger: ledger))
                    }
                }
                if audited?.finishedRounds.contains(round.roundID) != true {
                    try events.emitDurably(.roundFinished(record))
                }
                try store.markPublished(roundID: round.roundID, auditHead: events.auditLog?.head)
                published += 1
                logger.notice("published a round the last run left unpublished", metadata: [
                    "task": "\(logSafe(round.task))", "round": "\(round.roundID)", "state": "\(round.state)",
                ])
            } catch {
                logger.error("cannot publish a round the last run left unpublished; retried at the next start", metadata: [
                    "task": "\(logSafe(round.task))", "round": "\(round.roundID)", "error": "\(error)",
                ])
            }
        }
        return published
    }
}

/// A round's record rebuilt from the store (a store that cannot give one is reported, never guessed around).
struct UnrecoverableRound: Error, CustomStringConvertible {
    var roundID: String
    var reason: String
    var description: String { "round \(roundID) cannot be rebuilt from the store: \(reason)" }
}

extension RoundRecord {
    /// The record of a finished round as the store has it, marked ``recovered``.
    ///
    /// - Throws: ``UnrecoverableRound`` if the round id or a completed round's result is missing or malformed.
    init(recovering round: StoredRound, result: StoredResult?) throws {
        guard let roundID = bytes(fromHex: round.roundID).flatMap(RoundID.init(bytes:)) else {
            throw UnrecoverableRound(roundID: round.roundID, reason: "its identifier is not 16 bytes of hex")
        }
        if round.state == "completed", result == nil {
            throw UnrecoverableRound(roundID: round.roundID, reason: "it completed but has no released result")
        }
        func phases<Value>(_ named: [String: Value]) -> [RoundPhase: Value] {
            var byPhase: [RoundPhase: Value] = [:]
            for (name, value) in named {
                if let phase = RoundPhase.allCases.first(where: { "\($0)" == name }) { byPhase[phase] = value }
            }
            return byPhase
        }
        let survivorIdentities = result?.survivorIdentities ?? []
        let parameters = round.parameters ?? RoundParameters(
            roundID: roundID, taskName: round.task, dimension: 0, bits: 32, maximumInput: 0, graph: .complete,
            threshold: 1, minimumSurvivors: 2, mode: .honestButCurious, invitedCount: UInt32(round.identities.count),
            nonce: [UInt8](repeating: 0, count: 32))
        self.init(
            task: round.task, roundID: roundID, parameters: parameters, sum: result?.sum,
            survivors: survivorIdentities.compactMap { identity in
                round.identities.firstIndex(of: identity).map { ParticipantIndex($0 + 1) }
            },
            survivorIdentities: survivorIdentities,
            abortReason: round.state == "completed" ? nil : AbortReason(
                AbortCode(rawValue: UInt16(clamping: round.abortCode ?? Int(AbortCode.cancelled.rawValue))) ?? .cancelled,
                round.abortReason ?? "unknown"),
            phaseSeconds: phases(round.phaseSeconds), phaseCounts: phases(round.phaseParticipants),
            droppedPerPhase: phases(round.droppedPerPhase),
            wallSeconds: round.finishedAt.map { $0.timeIntervalSince(round.startedAt) } ?? 0,
            abortPhase: round.abortPhase)
        encoder = round.encoder
        globalRound = round.globalRound
        recovered = true
    }
}

extension CoordinatorService {
    /// Checks the store against the audit log (``AuditCrossCheck``) before any round runs. A disagreement stops
    /// the start with every problem named, unless an operator accepts the store as it is: the acceptance, its
    /// reason and the problems are then recorded in the audit log, and the store is anchored after that record.
    ///
    /// - Throws: ``CoordinatorConfigurationError`` listing the problems.
    static func crossCheck(store: CoordinatorStore, audit: AuditLog, accepting reason: String?, logger: Logger) throws {
        let problems: [String]
        do {
            problems = try AuditCrossCheck.problems(store: store, index: try audit.currentIndex())
        } catch {
            throw CoordinatorConfigurationError(problems: ["cannot check the store against the audit log: \(error)"])
        }
        guard !problems.isEmpty else { return }
        guard let reason, !reason.isEmpty else {
            throw CoordinatorConfigurationError(problems: ["the store and the audit log disagree:"] + problems.map { "  " + $0 } + [
                "Nothing was changed. Find out why (a restored backup, a lost WAL, an edited file); keep both as evidence. "
                    + "To go on with the store as it is, start once with --accept-store-divergence \"REASON\": the acceptance "
                    + "is recorded in the audit log (deploy/README.md, \"Store and audit log\").",
            ])
        }
        do {
            try audit.append(kind: "store_divergence_accepted", fields: [
                "reason": .string(reason), "problems": .array(problems.map { .string($0) }),
            ])
            try store.saveAuditAnchor(audit.head)
        } catch {
            throw CoordinatorConfigurationError(problems: ["cannot record the accepted divergence: \(error)"])
        }
        logger.warning("the store disagrees with the audit log; accepted by the operator", metadata: [
            "reason": "\(logSafe(reason))", "problems": "\(problems.count)",
        ])
    }
}
