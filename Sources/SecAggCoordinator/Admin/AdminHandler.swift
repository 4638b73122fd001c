import Foundation
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

extension CoordinatorService {
    /// Carries out one admin request. Changes are committed to the store before the response, and reported to the
    /// observers (audit log) as `clientEnrolled`, `clientRevoked`, `taskChanged` and `roundRequested`.
    func handleAdmin(_ request: AdminRequest, actor: String) async -> AdminResponse {
        do {
            switch request {
            case let .enroll(bytes, label):
                guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
                    return AdminResponse(status: .invalid, body: "\(hexString(bytes)) is not a valid Ed25519 public key")
                }
                let added = try store.enroll(key, label: label, actor: actor)
                events.emit(.clientEnrolled(identity: "\(key)", label: label, actor: actor))
                return ok(["identity": "\(key)", "label": label, "new": added])
            case let .revoke(bytes):
                guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
                    return AdminResponse(status: .invalid, body: "\(hexString(bytes)) is not a valid Ed25519 public key")
                }
                guard try store.revoke(key, actor: actor) else {
                    return AdminResponse(status: .notFound, body: "\(key) is not enrolled (or is already revoked)")
                }
                events.emit(.clientRevoked(identity: "\(key)", actor: actor))
                // Takes effect at once: out of every queue, and out of a round in flight (a dropout).
                var removedFrom: [String] = []
                for scheduler in schedulers.all {
                    if let place = await scheduler.revoke(key) { removedFrom.append("\(scheduler.task.name): \(place)") }
                }
                return ok(["identity": "\(key)", "revoked": true, "removed_from": removedFrom])
            case .listClients:
                return ok(try store.clients().map(Self.json(_:)))
            case let .createTask(definition):
                return try await createTask(definition, actor: actor)
            case .listTasks:
                var tasks: [[String: Any]] = []
                let sources = Dictionary(try store.tasks().map { ($0.name, $0.source) }, uniquingKeysWith: { $1 })
                for scheduler in schedulers.all {
                    var object = taskSummary(scheduler.task)
                    object["source"] = sources[scheduler.task.name] ?? "config"
                    object["waiting"] = await scheduler.waitingCount
                    object["round_in_flight"] = scheduler.monitor.current.map { "\($0.roundID)" } ?? NSNull()
                    tasks.append(object)
                }
                return ok(tasks)
            case let .showTask(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                let stored = try store.tasks().first { $0.name == name }
                var object = taskSummary(scheduler.task)
                object["source"] = stored?.source ?? "config"
                object["waiting"] = await scheduler.waitingCount
                object["definition"] = stored.flatMap { try? JSONSerialization.jsonObject(with: Data($0.definition.utf8)) }
                    ?? NSNull()
                object["round_in_flight"] = scheduler.monitor.current.map { "\($0.roundID)" } ?? NSNull()
                return ok(object)
            case let .startRound(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                if let refusal = await scheduler.requestRound() {
                    return AdminResponse(status: .failed, body: refusal)
                }
                events.emit(.roundRequested(task: name, actor: actor))
                return ok(["task": name, "requested": true, "waiting": await scheduler.waitingCount])
            case let .watchRound(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                if let live = scheduler.monitor.current {
                    var dropped: [String: Int] = [:]
                    for (phase, count) in live.droppedPerPhase { dropped["\(phase)"] = count }
                    var object: [String: Any] = [
                        "task": name, "round_id": "\(live.roundID)", "state": "running",
                        "participants": live.participants, "dropped_per_phase": dropped,
                        "started_at": Self.timestamp(live.startedAt),
                    ]
                    if let progress = live.progress {
                        object["phase"] = "\(progress.phase)"
                        object["expected"] = progress.expected
                        object["received"] = progress.received
                        object["required"] = progress.required
                    }
                    return ok(object)
                }
                guard let latest = try store.rounds(task: name, limit: 1).first else {
                    return ok(["task": name, "state": "idle", "waiting": await scheduler.waitingCount])
                }
                return ok(Self.json(latest))
            case let .listRounds(task, limit):
                let rounds = try store.rounds(task: task.isEmpty ? nil : task, limit: Int(min(limit, 10_000)))
                return ok(rounds.map(Self.json(_:)))
            case let .showResult(roundID):
                guard let result = try store.result(roundID: "\(roundID)") else {
                    let known = try store.round(id: "\(roundID)")
                    return AdminResponse(status: .notFound, body: known.map {
                        "round \(roundID) released no result (it is \($0.state)\($0.abortReason.map { ": \($0)" } ?? ""))"
                    } ?? "no round \(roundID)")
                }
                guard let round = try store.round(id: result.roundID) else {
                    return AdminResponse(status: .failed, body: "round \(roundID) has a result but no round record")
                }
                // The same document as the result file (PublishedResult), rebuilt from the store.
                var published = PublishedResult(
                    try RoundRecord(recovering: round, result: result), finishedAt: round.finishedAt ?? result.releasedAt)
                published.recovered = false
                return AdminResponse(
                    status: .ok, body: String(decoding: try PublishedResult.encoded(published), as: UTF8.self))
            case let .showBudget(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                guard let ledger = await scheduler.budget else {
                    return AdminResponse(status: .notFound, body: "task '\(name)' has no differential privacy, hence no budget")
                }
                let entries = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(ledger.entries))) ?? []
                return ok([
                    "task": name, "epsilon_limit": ledger.epsilonLimit, "epsilon_spent": ledger.epsilonSpent,
                    "delta": ledger.delta, "rho_limit": ledger.rhoLimit, "rho_spent": ledger.rhoSpent,
                    "rho_remaining": ledger.rhoRemaining, "entries": entries,
                ])
            }
        } catch {
            return AdminResponse(status: .failed, body: "\(error)")
        }
    }

    private func createTask(_ definition: String, actor: String) async throws -> AdminResponse {
        let task: TaskConfiguration
        let entry: ConfigurationFile.Document.Task
        do {
            (task, entry) = try ConfigurationFile.parseTask(definition)
        } catch let error as CoordinatorConfigurationError {
            return AdminResponse(status: .invalid, body: error.problems.joined(separator: "; "))
        }
        guard schedulers[task.name] == nil else {
            return AdminResponse(status: .failed, body: "a task named '\(task.name)' exists already")
        }
        let scheduler: TaskScheduler
        do {
            scheduler = try TaskScheduler(
                task: task, store: store, results: results, events: events, roundBudgetBytes: settings.inboundBudgetBytes,
                logger: logger)
        } catch let error as CoordinatorConfigurationError {
            return AdminResponse(status: .invalid, body: error.problems.joined(separator: "; "))
        }
        let json = ConfigurationFile.json(entry)
        try store.saveTask(name: task.name, definition: json, source: "admin")
        guard schedulers.add(scheduler) else {
            return AdminResponse(status: .failed, body: "a task named '\(task.name)' exists already")
        }
        var summary = "created: dimension \(task.dimension), \(task.minimumClients)...\(task.maximumClients) clients"
        if let privacy = task.privacy {
            summary += ", \(privacy.placement) noise, budget epsilon \(privacy.budgetEpsilon)"
        }
        events.emit(.taskChanged(task: task.name, summary: summary, actor: actor))
        if let ledger = await scheduler.budget { events.emit(.ledgerLoaded(task: task.name, ledger: ledger)) }
        var object = taskSummary(task)
        object["source"] = "admin"
        object["definition"] = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) ?? NSNull()
        return ok(object)
    }

    private func taskSummary(_ task: TaskConfiguration) -> [String: Any] {
        [
            "name": task.name, "dimension": task.dimension, "bits": task.bits, "min_clients": task.minimumClients,
            "max_clients": task.maximumClients, "rounds": task.rounds.map { $0 as Any } ?? NSNull(),
            "privacy": task.privacy.map { $0.placement == .central ? "central" : "distributed" } ?? "none",
        ]
    }

    private func notFound(task name: String) -> AdminResponse {
        AdminResponse(status: .notFound, body: "no task named '\(name)' (see `secagg admin task list`)")
    }

    private func ok(_ object: Any) -> AdminResponse {
        do {
            // Compact: a released sum of a million entries is one line, not a million.
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return AdminResponse(status: .ok, body: String(decoding: data, as: UTF8.self))
        } catch {
            return AdminResponse(status: .failed, body: "could not encode the answer: \(error)")
        }
    }

    static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    static func json(_ client: StoredClient) -> [String: Any] {
        [
            "public_key": client.publicKey, "label": client.label, "enrolled_at": timestamp(client.enrolledAt),
            "enrolled_by": client.enrolledBy, "active": client.revokedAt == nil,
            "revoked_at": client.revokedAt.map(timestamp) ?? NSNull(), "revoked_by": client.revokedBy ?? NSNull(),
        ]
    }

    static func json(_ round: StoredRound) -> [String: Any] {
        var object: [String: Any] = [
            "round_id": round.roundID, "task": round.task, "state": round.state,
            "started_at": timestamp(round.startedAt), "finished_at": round.finishedAt.map(timestamp) ?? NSNull(),
            "reached_phase": round.reachedPhase.map { "\($0)" } ?? NSNull(),
            "phase_participants": round.phaseParticipants, "phase_seconds": round.phaseSeconds,
            "dropped_per_phase": round.droppedPerPhase, "survivors": round.survivors ?? NSNull(),
            "abort_code": round.abortCode.map { AbortCode.hex(UInt16(clamping: $0)) } ?? NSNull(),
            "abort_name": round.abortCode.map { AbortCode(rawValue: UInt16(clamping: $0))?.name ?? "unknown" } ?? NSNull(),
            "abort_reason": round.abortReason ?? NSNull(),
            "abort_phase": round.abortPhase.map { "\($0)" } ?? NSNull(),
        ]
        if let parameters = round.parameters {
            object["clients"] = Int(parameters.invitedCount)
            object["dimension"] = Int(parameters.dimension)
            object["bits"] = Int(parameters.bits)
            object["threshold"] = Int(parameters.threshold)
            object["mode"] = parameters.mode == .active ? "active" : "honest"
            switch parameters.noise {
            case .none: object["noise"] = "none"
            case .central: object["noise"] = "central"
            case .distributed: object["noise"] = "distributed"
            }
        }
        return object
    }
}
