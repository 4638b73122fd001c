import Foundation
import SecAggFederation
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
            case let .enroll(bytes, label, endorsement):
                guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
                    return AdminResponse(status: .invalid, body: "\(hexString(bytes)) is not a valid Ed25519 public key")
                }
                // With an enrollment authority every client needs its endorsement (SPEC 2.1): given here, or in the
                // configuration file for the keys listed there. Checked now, so a client enrolled here is not
                // refused at its handshake; without an authority an endorsement would be a silently ignored value.
                switch (settings.enrollmentAuthority, endorsement.isEmpty) {
                case (nil, false):
                    return AdminResponse(status: .invalid, body: """
                        no enrollment authority is configured, so an endorsement would not be checked or relayed; \
                        enroll without --endorsement, or configure enrollment.authority
                        """)
                case let (authority?, false):
                    guard Endorsement.isValid(endorsement, of: key.rawRepresentation, by: authority) else {
                        return AdminResponse(status: .invalid, body: "the endorsement is not the enrollment authority's signature on \(key)")
                    }
                case (_?, true) where settings.endorsements[key] == nil:
                    return AdminResponse(status: .failed, body: """
                        an enrollment authority is configured: give \(key)'s endorsement (secagg key endorse) with \
                        --endorsement
                        """)
                default:
                    break
                }
                let added = try store.enroll(key, label: label, actor: actor, endorsement: endorsement.isEmpty ? nil : endorsement)
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
                    if let place = await scheduler.revoke(key) { removedFrom.append("\(scheduler.name): \(place)") }
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
                    var object = taskSummary(await scheduler.task)
                    object["state"] = await scheduler.state.rawValue
                    object["source"] = sources[scheduler.name] ?? "config"
                    object["waiting"] = await scheduler.waitingCount
                    object["round_in_flight"] = scheduler.monitor.current.map { "\($0.roundID)" } ?? NSNull()
                    tasks.append(object)
                }
                return ok(tasks)
            case let .showTask(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                let stored = try store.tasks().first { $0.name == name }
                var object = taskSummary(await scheduler.task)
                object["state"] = await scheduler.state.rawValue
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
            case let .pauseTask(name), let .resumeTask(name), let .retireTask(name):
                return try await changeState(of: name, request: request, actor: actor)
            case let .updateTask(definition):
                return try await updateTask(definition, actor: actor)
            case let .startGlobalRound(name, globalRound):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                if let refusal = await scheduler.requestRound(globalRound: globalRound) {
                    return AdminResponse(status: .failed, body: refusal)
                }
                events.emit(.roundRequested(task: name, actor: actor))
                return ok([
                    "task": name, "global_round": "\(globalRound)", "requested": true,
                    "waiting": await scheduler.waitingCount,
                ])
            case let .cohortRelease(name, globalRound):
                return try cohortRelease(task: name, globalRound: globalRound)
            case let .showBudget(name):
                guard let scheduler = schedulers[name] else { return notFound(task: name) }
                guard let ledger = await scheduler.budget else {
                    return AdminResponse(status: .notFound, body: "task '\(name)' has no differential privacy, hence no budget")
                }
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let entries = (try? JSONSerialization.jsonObject(with: encoder.encode(ledger.entries))) ?? []
                return ok([
                    "task": name, "epsilon_limit": ledger.epsilonLimit, "epsilon_spent": ledger.epsilonSpent,
                    "delta": ledger.delta, "rho_limit": ledger.rhoLimit, "rho_spent": ledger.rhoSpent,
                    "rho_remaining": ledger.rhoRemaining, "penalty_spent": ledger.penaltySpent, "entries": entries,
                ])
            case .startGlobal, .listGlobalRounds, .showGlobalRound, .listShards:
                return AdminResponse(status: .invalid, body: "this is a shard (secaggd): ask the root (secagg-root) for its global rounds and shards")
            }
        } catch {
            return AdminResponse(status: .failed, body: "\(error)")
        }
    }

    /// The signed cohort release of `task`'s round of `globalRound` (protocol/FEDERATION.md §2), built from the store:
    /// not found without such a round, failed (with the reason) while it runs or if it released nothing.
    private func cohortRelease(task name: String, globalRound: GlobalRoundID) throws -> AdminResponse {
        guard let round = try store.round(task: name, globalRound: globalRound) else {
            return AdminResponse(status: .notFound, body: "task '\(name)' \(GlobalRoundAnswer.noRoundYet) \(globalRound)")
        }
        guard round.state == "completed" else {
            let why = round.state == "running" ? GlobalRoundAnswer.stillRunning : "released nothing (\(round.abortReason ?? round.state))"
            return AdminResponse(status: .failed, body: "round \(round.roundID) of global round \(globalRound) \(why)")
        }
        guard let result = try store.result(roundID: round.roundID), let parameters = round.parameters,
              let roundID = RoundID(bytes: SecAggWire.bytes(fromHex: round.roundID) ?? [])
        else {
            return AdminResponse(status: .failed, body: "round \(round.roundID) has no complete result in the store")
        }
        let release = try CohortRelease(
            coordinator: settings.identity.verifyingKey, globalRound: globalRound, roundID: roundID,
            parameters: parameters, encoder: round.encoder, survivors: result.survivorIdentities.count, sum: result.sum)
        let signed = try release.signed(with: settings.identity)
        return ok([
            "task": name, "global_round": "\(globalRound)", "round_id": round.roundID,
            "survivors": result.survivorIdentities.count, "release": hexString(signed.encoded),
        ])
    }

    /// A definition's problems, as the admin answer that lists them.
    struct DefinitionRefusal: Error {
        var response: AdminResponse
    }

    /// Parses and validates a task definition as the configuration file's tasks are.
    static func parse(_ definition: String) -> Result<(TaskConfiguration, ConfigurationFile.Document.Task), DefinitionRefusal> {
        do {
            return .success(try ConfigurationFile.parseTask(definition))
        } catch let error as CoordinatorConfigurationError {
            return .failure(DefinitionRefusal(response: AdminResponse(status: .invalid, body: error.problems.joined(separator: "; "))))
        } catch {
            return .failure(DefinitionRefusal(response: AdminResponse(status: .invalid, body: "\(error)")))
        }
    }

    private func createTask(_ definition: String, actor: String) async throws -> AdminResponse {
        let (task, entry): (TaskConfiguration, ConfigurationFile.Document.Task)
        switch Self.parse(definition) {
        case let .success(parsed): (task, entry) = parsed
        case let .failure(refusal): return refusal.response
        }
        guard schedulers[task.name] == nil else {
            return AdminResponse(status: .failed, body: "a task named '\(task.name)' exists already")
        }
        if try store.tasks().contains(where: { $0.name == task.name && $0.state == .retired }) {
            return AdminResponse(status: .failed, body: """
                a retired task was named '\(task.name)': its results and privacy ledger stay under that name; choose \
                another
                """)
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

    /// Pauses, resumes or retires a task: the state is committed to the store first (it survives restarts), then
    /// the scheduler follows and the change is audited.
    private func changeState(of name: String, request: AdminRequest, actor: String) async throws -> AdminResponse {
        guard let scheduler = schedulers[name] else { return notFound(task: name) }
        let current = await scheduler.state
        let target: TaskState
        switch request {
        case .pauseTask: target = .paused
        case .resumeTask: target = .active
        default: target = .retired
        }
        guard current != .retired else {
            return AdminResponse(status: .failed, body: "task '\(name)' is retired; it cannot be \(target == .active ? "resumed" : "changed")")
        }
        if target == .active, current == .active {
            return AdminResponse(status: .failed, body: "task '\(name)' is not paused")
        }
        if target == .paused, current == .paused {
            return AdminResponse(status: .failed, body: "task '\(name)' is already paused")
        }
        guard try store.setTaskState(name: name, target) else {
            return AdminResponse(status: .failed, body: "task '\(name)' is not in the store")
        }
        switch target {
        case .paused: await scheduler.pause()
        case .active: await scheduler.resume()
        case .retired: await scheduler.retire()
        }
        let verb = target == .paused ? "paused" : target == .active ? "resumed" : "retired"
        events.emit(.taskChanged(task: name, summary: verb, actor: actor))
        let inFlight: Any = scheduler.monitor.current.map { "\($0.roundID)" } ?? NSNull()
        return ok(["task": name, "state": target.rawValue, "round_in_flight": inFlight])
    }

    /// Replaces an admin-created task's definition (validated like a new one) for the rounds that start afterwards.
    private func updateTask(_ definition: String, actor: String) async throws -> AdminResponse {
        let (task, entry): (TaskConfiguration, ConfigurationFile.Document.Task)
        switch Self.parse(definition) {
        case let .success(parsed): (task, entry) = parsed
        case let .failure(refusal): return refusal.response
        }
        guard let scheduler = schedulers[task.name] else { return notFound(task: task.name) }
        guard let stored = try store.tasks().first(where: { $0.name == task.name }), stored.source == "admin" else {
            return AdminResponse(status: .failed, body: """
                task '\(task.name)' comes from the configuration file: change it there and restart secaggd (an update \
                here would be lost at the next start)
                """)
        }
        guard await scheduler.state != .retired else {
            return AdminResponse(status: .failed, body: "task '\(task.name)' is retired; it cannot be changed")
        }
        let old = await scheduler.task
        switch (old.privacy, task.privacy) {
        case (nil, .some):
            return AdminResponse(status: .invalid, body: "privacy cannot be added to a task; create a new task with it")
        case (.some, nil):
            return AdminResponse(status: .invalid, body: "privacy cannot be removed from a task: it would release exact sums under a DP task's name")
        case let (.some(before), .some(after)) where before.delta != after.delta:
            return AdminResponse(status: .invalid, body: """
                privacy.delta cannot change (\(before.delta) → \(after.delta)): the ledger's epsilons are stated at it
                """)
        default:
            break
        }
        let changes = Self.differences(ConfigurationFile.definition(of: old), ConfigurationFile.definition(of: task))
        guard !changes.isEmpty else { return AdminResponse(status: .failed, body: "task '\(task.name)' already has this definition") }
        let ledger: PrivacyBudget?
        do {
            ledger = try await scheduler.update(to: task)
        } catch let error as AccountingError {
            return AdminResponse(status: .invalid, body: "privacy.budget_epsilon: \(error)")
        }
        try store.saveTask(name: task.name, definition: ConfigurationFile.json(entry), source: "admin")
        if let ledger { events.emit(.budgetChanged(task: task.name, ledger: ledger, actor: actor)) }
        events.emit(.taskChanged(task: task.name, summary: "updated: " + changes.joined(separator: ", "), actor: actor))
        var object = taskSummary(task)
        object["source"] = "admin"
        object["changed"] = changes
        return ok(object)
    }

    /// The keys whose values differ between two definitions, as `key: old → new`.
    static func differences(_ old: ConfigurationFile.Document.Task, _ new: ConfigurationFile.Document.Task) -> [String] {
        func flattened(_ definition: ConfigurationFile.Document.Task) -> [String: String] {
            guard let object = try? JSONSerialization.jsonObject(with: Data(ConfigurationFile.json(definition).utf8)) else { return [:] }
            var flat: [String: String] = [:]
            func walk(_ value: Any, _ path: String) {
                if let dictionary = value as? [String: Any] {
                    for (key, inner) in dictionary { walk(inner, path.isEmpty ? key : "\(path).\(key)") }
                } else {
                    flat[path] = "\(value)"
                }
            }
            walk(object, "")
            return flat
        }
        let before = flattened(old)
        let after = flattened(new)
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            before[key] == after[key] ? nil : "\(key): \(before[key] ?? "unset") → \(after[key] ?? "unset")"
        }
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
