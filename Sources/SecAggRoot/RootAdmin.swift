import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggPrivacy
import SecAggWire

extension RootService {
    /// Carries out one admin request at the root (protocol/ADMIN.md §4): enrollment places the client on one shard
    /// and enrolls it there; tasks are defined once and pushed to every shard; global rounds are started, listed and
    /// shown; the budget is the global ledger. Requests about one shard's own rounds are refused: ask that shard.
    func handle(_ request: AdminRequest, actor: String) async -> AdminResponse {
        do {
            switch request {
            case let .enroll(bytes, label, endorsement):
                return try await enroll(bytes, label: label, endorsement: endorsement, actor: actor)
            case let .revoke(bytes):
                return try await revoke(bytes)
            case .listClients:
                let names = configuration.shards.map(\.name)
                return ok(try store.placements().map { placement -> [String: Any] in
                    var object: [String: Any] = [
                        "identity": placement.key, "label": placement.label, "shard": placement.shard,
                        "enrolled_at": Self.timestamp(placement.enrolledAt), "enrolled_by": placement.actor,
                    ]
                    // After the shard list changed, rendezvous placement may now pick another shard for the key.
                    if let key = try? Ed25519.VerifyingKey(rawRepresentation: SecAggWire.bytes(fromHex: placement.key) ?? []),
                       let expected = ShardPlacement.shard(for: key, among: names), expected != placement.shard
                    {
                        object["moves_to"] = expected
                    }
                    return object
                })
            case let .createTask(definition), let .updateTask(definition):
                let task: RootConfiguration.Task
                do {
                    task = try RootConfiguration.Task(definition: definition)
                } catch let error as CoordinatorConfigurationError {
                    return AdminResponse(status: .invalid, body: error.problems.joined(separator: "; "))
                }
                try store.saveTask(name: task.configuration.name, definition: definition)
                var pushed: [String: String] = [:]
                await withTaskGroup(of: (String, String).self) { group in
                    for shard in configuration.shards {
                        group.addTask { (shard.name, await self.push(definition, to: shard)) }
                    }
                    for await (name, result) in group { pushed[name] = result }
                }
                return ok(["task": task.configuration.name, "shards": pushed])
            case .listTasks:
                return ok(try store.tasks().map { ["name": $0.name, "definition": $0.definition] })
            case let .showTask(name):
                guard let stored = try store.tasks().first(where: { $0.name == name }) else { return notFound(task: name) }
                let task = try RootConfiguration.Task(definition: stored.definition)
                return ok(["name": name, "definition": stored.definition, "summary": task.configuration.summary])
            case let .startGlobal(name):
                do {
                    let (id, ledger) = try startGlobalRound(task: name, actor: actor)
                    var object: [String: Any] = ["global_round": "\(id)", "task": name, "state": "running"]
                    if let ledger {
                        object["epsilon_spent"] = ledger.epsilonSpent
                        object["epsilon_limit"] = ledger.epsilonLimit
                    }
                    return ok(object)
                } catch let refusal as Refusal {
                    return AdminResponse(status: refusal.description.hasPrefix("the root has no task") ? .notFound : .failed, body: refusal.description)
                } catch let error as AccountingError {
                    return AdminResponse(status: .failed, body: "the global privacy budget of task '\(name)' refuses the round: \(error)")
                }
            case let .listGlobalRounds(task, limit):
                let rounds = try store.globalRounds(task: task.isEmpty ? nil : task, limit: Int(min(limit, 10_000)))
                return ok(rounds.map(Self.summary))
            case let .showGlobalRound(id):
                guard let round = try store.globalRound(id: "\(id)") else {
                    return AdminResponse(status: .notFound, body: "no global round \(id)")
                }
                return AdminResponse(status: .ok, body: round.document)
            case .listShards:
                let counts = try store.placementCounts()
                let seen = health.withLockedValue { $0 }
                return ok(configuration.shards.map { shard -> [String: Any] in
                    var object: [String: Any] = [
                        "name": shard.name, "admin": shard.admin, "clients": shard.clients, "key": "\(shard.key)",
                        "placed_clients": counts[shard.name] ?? 0,
                    ]
                    if let health = seen[shard.name] {
                        object["reachable"] = health.reachable
                        object["checked_at"] = Self.timestamp(health.checkedAt)
                        if let problem = health.problem { object["problem"] = problem }
                    } else {
                        object["reachable"] = NSNull()
                    }
                    return object
                })
            case let .showBudget(name):
                guard try store.tasks().contains(where: { $0.name == name }) else { return notFound(task: name) }
                guard let ledger = try store.ledger(task: name) else {
                    return AdminResponse(status: .notFound, body: "task '\(name)' has no global ledger (no differential privacy, or no global round yet)")
                }
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let entries = (try? JSONSerialization.jsonObject(with: encoder.encode(ledger.entries))) ?? []
                return ok([
                    "task": name, "scope": "global: every client of every shard is charged each global round",
                    "epsilon_limit": ledger.epsilonLimit, "epsilon_spent": ledger.epsilonSpent, "delta": ledger.delta,
                    "rho_limit": ledger.rhoLimit, "rho_spent": ledger.rhoSpent, "rho_remaining": ledger.rhoRemaining,
                    "penalty_spent": ledger.penaltySpent,
                    "entries": entries,
                ])
            case .startRound, .watchRound, .listRounds, .showResult, .pauseTask, .resumeTask, .retireTask,
                 .startGlobalRound, .cohortRelease:
                return AdminResponse(status: .invalid, body: """
                    this is a root (secagg-root): it runs global rounds (global start|list|show) and does not serve a \
                    shard's own rounds or tasks' states; ask the shard's admin listener for those
                    """)
            }
        } catch {
            return AdminResponse(status: .failed, body: "\(error)")
        }
    }

    /// Places the key (FEDERATION.md §5) and enrolls it on that shard; refused if the key is placed already.
    private func enroll(_ bytes: [UInt8], label: String, endorsement: [UInt8], actor: String) async throws -> AdminResponse {
        guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
            return AdminResponse(status: .invalid, body: "\(hexString(bytes)) is not a valid Ed25519 public key")
        }
        if let existing = try store.placement(of: key) {
            return AdminResponse(status: .failed, body: """
                \(key) is already enrolled, on shard \(existing.shard): a client belongs to one shard; revoke it first \
                to move it
                """)
        }
        guard let name = ShardPlacement.shard(for: key, among: configuration.shards.map(\.name)), let shard = shardsByName[name] else {
            return AdminResponse(status: .failed, body: "the root has no shards")
        }
        let answer: AdminResponse
        do {
            answer = try await exchange(.enroll(publicKey: bytes, label: label, endorsement: endorsement), with: shard)
        } catch {
            return AdminResponse(status: .failed, body: "\(key) belongs to shard \(name), which cannot be reached: \(error)")
        }
        guard answer.status == .ok else {
            return AdminResponse(status: answer.status, body: "shard \(name) refused the enrollment: \(answer.body)")
        }
        if let existing = try store.place(key, on: name, label: label, actor: actor), existing.shard != name {
            return AdminResponse(status: .failed, body: "\(key) is already enrolled, on shard \(existing.shard)")
        }
        return ok(["identity": "\(key)", "label": label, "shard": name, "clients": shard.clients, "shard_key": "\(shard.key)"])
    }

    /// Revokes the key on its shard, then forgets its placement.
    private func revoke(_ bytes: [UInt8]) async throws -> AdminResponse {
        guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
            return AdminResponse(status: .invalid, body: "\(hexString(bytes)) is not a valid Ed25519 public key")
        }
        guard let placement = try store.placement(of: key) else {
            return AdminResponse(status: .notFound, body: "\(key) is not enrolled through this root")
        }
        if let shard = shardsByName[placement.shard] {
            let answer: AdminResponse
            do {
                answer = try await exchange(.revoke(publicKey: bytes), with: shard)
            } catch {
                return AdminResponse(status: .failed, body: "\(key) is on shard \(shard.name), which cannot be reached: \(error)")
            }
            guard answer.status == .ok || answer.status == .notFound else {
                return AdminResponse(status: answer.status, body: "shard \(shard.name) refused the revocation: \(answer.body)")
            }
        }
        _ = try store.unplace(key)
        return ok(["identity": "\(key)", "revoked": true, "shard": placement.shard])
    }

    static func summary(_ round: RootStore.GlobalRound) -> [String: Any] {
        var object: [String: Any] = [
            "global_round": round.id, "task": round.task, "state": round.state,
            "started_at": timestamp(round.startedAt),
        ]
        if let finished = round.finishedAt { object["finished_at"] = timestamp(finished) }
        if let document = try? JSONSerialization.jsonObject(with: Data(round.document.utf8)) as? [String: Any] {
            for key in ["survivors", "cohorts", "failure"] where document[key] != nil { object[key] = document[key] }
            if let included = document["included"] as? [[String: Any]] { object["included"] = included.compactMap { $0["shard"] } }
            if let excluded = document["excluded"] as? [[String: Any]] { object["excluded"] = excluded.compactMap { $0["shard"] } }
        }
        return object
    }

    static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    private func ok(_ object: Any) -> AdminResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return AdminResponse(status: .ok, body: String(decoding: data, as: UTF8.self))
    }

    private func notFound(task name: String) -> AdminResponse {
        AdminResponse(status: .notFound, body: "the root has no task '\(name)'")
    }
}
