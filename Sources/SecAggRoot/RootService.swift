import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggPrivacy
import SecAggTransport
import SecAggWire
import ServiceLifecycle

/// The root of a sharded deployment (protocol/FEDERATION.md §4–§6), run by `secagg-root`: serves `secagg admin`
/// (enrollment with placement, tasks pushed to every shard, global rounds, the global ledger), runs global rounds —
/// on request or on a schedule — with ``GlobalRoundRunner``, and stores each with its cohorts and signed releases.
///
/// The I/O edge around pure parts: placement is ``ShardPlacement``, checking and adding releases is
/// ``CohortCombiner``; shards are reached through their admin listeners (``AdminClient``) with the root's identity.
public final class RootService: Service, Sendable {
    public let configuration: RootConfiguration
    let store: RootStore
    let logger: Logger
    let shardsByName: [String: RootConfiguration.Shard]
    /// The admin listener's port, once bound.
    public let adminListening = BoundPort()
    let health = NIOLockedValueBox<[String: ShardHealth]>([:])
    let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation
    let roundsGauge = Gauge(label: "secagg_root_global_rounds_running")
    let running = NIOLockedValueBox(0)
    let reachableGauge = Gauge(label: "secagg_root_shards_reachable")

    /// One global round to run.
    struct Job: Sendable {
        var id: GlobalRoundID
        var task: RootConfiguration.Task
    }

    /// What the root last saw of a shard.
    public struct ShardHealth: Sendable {
        public var reachable: Bool
        public var checkedAt: Date
        public var problem: String?
    }

    /// The root's admin listener takes requests (a task definition at most) and answers; nothing larger.
    static var adminLimits: TransportLimits {
        var limits = TransportLimits()
        limits.maximumMessageBytes = 1 << 20
        return limits
    }

    /// How often every shard is asked whether it answers (and given the tasks if it was not reachable before).
    public static let healthInterval: Duration = .seconds(5)

    /// - Parameters:
    ///   - store: The durable record (``RootStore``).
    public init(configuration: RootConfiguration, store: RootStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        shardsByName = Dictionary(uniqueKeysWithValues: configuration.shards.map { ($0.name, $0) })
        (jobs, jobQueue) = AsyncStream.makeStream(of: Job.self)
    }

    /// Ready to serve: the admin listener is bound and at least `global.min_cohorts` shards answered their last check.
    public var isReady: Bool {
        adminListening.current != nil && reachableShards >= configuration.policy.minimumCohorts
    }

    var reachableShards: Int { health.withLockedValue { $0.values.filter(\.reachable).count } }

    /// Runs until graceful shutdown: global rounds in flight are then stopped and recorded as interrupted.
    ///
    /// - Throws: ``CoordinatorStartError`` if the admin listener cannot bind; ``StoreError`` if the store fails.
    public func run() async throws {
        let interrupted = try store.interruptRunning()
        if !interrupted.isEmpty {
            logger.warning("global rounds left running by an earlier stop are recorded as interrupted", metadata: ["ids": "\(interrupted)"])
        }
        for task in configuration.tasks {
            try store.saveTask(name: task.configuration.name, definition: task.definition)
        }
        let admin: AdminServer
        do {
            admin = try await AdminServer.bind(configuration.admin, identity: configuration.identity, limits: Self.adminLimits, logger: logger)
        } catch let error as CoordinatorStartError {
            adminListening.publish(.failure(error))
            throw error
        }
        adminListening.publish(.success(admin.port))
        logger.notice("root started", metadata: [
            "root_key": "\(configuration.identity.verifyingKey)", "shards": "\(configuration.shards.map(\.name))",
            "admin": "\(configuration.admin.host):\(admin.port)",
        ])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await admin.serve({ request, actor in await self.handle(request, actor: actor) }) }
                group.addTask { await self.watchShards() }
                if let every = configuration.every { group.addTask { await self.schedule(every: every) } }
                for await job in jobs {
                    group.addTask { await self.runGlobalRound(job) }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.logger.notice("root stopping")
            admin.stop()
            self.jobQueue.finish()
        }
    }

    // MARK: Shards

    /// One admin exchange with a shard, as the root.
    func exchange(_ request: AdminRequest, with shard: RootConfiguration.Shard) async throws -> AdminResponse {
        let client = AdminClient(
            host: shard.adminHost, port: shard.adminPort, identity: configuration.identity, daemonKey: shard.key,
            timeout: configuration.adminTimeout)
        return try await client.exchange(request)
    }

    /// Checks every shard every ``healthInterval``; a shard seen for the first time, or again after it was not
    /// reachable, is given every task.
    func watchShards() async {
        while !Task.isCancelled {
            await withTaskGroup(of: Void.self) { group in
                for shard in configuration.shards {
                    group.addTask {
                        let before = self.health.withLockedValue { $0[shard.name]?.reachable } ?? false
                        var problem: String?
                        do {
                            let answer = try await self.exchange(.listTasks, with: shard)
                            if answer.status != .ok { problem = "answered \(answer.status): \(answer.body)" }
                        } catch {
                            problem = "\(error)"
                        }
                        self.health.withLockedValue {
                            $0[shard.name] = ShardHealth(reachable: problem == nil, checkedAt: Date(), problem: problem)
                        }
                        if problem == nil, !before {
                            self.logger.info("shard answers", metadata: ["shard": "\(shard.name)"])
                            _ = await self.pushTasks(to: shard)
                        } else if let problem, before {
                            self.logger.warning("shard does not answer", metadata: ["shard": "\(shard.name)", "problem": "\(problem)"])
                        }
                    }
                }
            }
            reachableGauge.record(reachableShards)
            try? await Task.sleep(for: Self.healthInterval)
        }
    }

    /// Gives `shard` every task the root defines: created, or updated where its definition differs.
    ///
    /// - Returns: task name → what the shard did or why it refused.
    func pushTasks(to shard: RootConfiguration.Shard) async -> [String: String] {
        var results: [String: String] = [:]
        for (name, definition) in (try? store.tasks()) ?? [] {
            results[name] = await push(definition, to: shard)
        }
        return results
    }

    /// One task to one shard: createTask, then updateTask if it exists; "created", "updated", "unchanged", or why not.
    func push(_ definition: String, to shard: RootConfiguration.Shard) async -> String {
        do {
            let created = try await exchange(.createTask(definition: definition), with: shard)
            if created.status == .ok { return "created" }
            guard created.body.contains("exists already") else { return "refused: \(created.body)" }
            let updated = try await exchange(.updateTask(definition: definition), with: shard)
            if updated.status == .ok { return "updated" }
            if updated.body.contains("already has this definition") { return "unchanged" }
            logger.warning("a shard refused the task's definition", metadata: ["shard": "\(shard.name)", "answer": "\(updated.body)"])
            return "refused: \(updated.body)"
        } catch {
            return "unreachable: \(error)"
        }
    }

    // MARK: Global rounds

    /// Why a global round was not started.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts a global round of `name`: charges the global ledger and records the round (one transaction), then
    /// queues it. Refused while another global round of the task runs, or if the budget cannot pay.
    ///
    /// - Returns: the round's id and the ledger after the charge.
    /// - Throws: ``Refusal``, `AccountingError`, ``StoreError``, `CoordinatorConfigurationError` for a stored
    ///   definition that no longer parses.
    func startGlobalRound(task name: String, actor: String) throws -> (GlobalRoundID, PrivacyBudget?) {
        guard let definition = try store.tasks().first(where: { $0.name == name })?.definition else {
            throw Refusal(description: "the root has no task '\(name)'")
        }
        let task = try RootConfiguration.Task(definition: definition)
        var random = SystemRandom()
        let id = GlobalRoundID(using: &random)
        let calibration = try task.configuration.globalRoundCalibration()
        let privacy = task.configuration.privacy
        let bits = task.configuration.bits
        let record = GlobalRoundReport.running(
            globalRound: id, task: name, shards: configuration.shards.map(\.name), actor: actor, charge: nil)
        let ledger: PrivacyBudget?
        do {
            ledger = try begin(id, name: name, record: record, calibration: calibration, privacy: privacy, bits: bits)
        } catch let running as RootStore.AlreadyRunning {
            throw Refusal(description: "global round \(running.globalRound) of task '\(name)' is still running")
        }
        jobQueue.yield(Job(id: id, task: task))
        return (id, ledger)
    }

    /// The store's half of a start: the charge and the running row, in one transaction.
    private func begin(
        _ id: GlobalRoundID, name: String, record: [String: Any], calibration: PrivacyCalibration?,
        privacy: TaskPrivacy?, bits: Int
    ) throws -> PrivacyBudget? {
        try store.begin(globalRound: "\(id)", task: name, document: GlobalRoundReport.text(record)) { current in
            guard let calibration, let privacy else { return current }
            var ledger = try current ?? PrivacyBudget(epsilon: privacy.budgetEpsilon, delta: privacy.delta)
            _ = try ledger.charge(roundID: "\(id)", calibration: calibration, clip: privacy.l2Sensitivity, bits: bits)
            return ledger
        }
    }

    /// Runs one queued global round to its end and records it.
    func runGlobalRound(_ job: Job) async {
        roundsGauge.record(running.withLockedValue { $0 += 1; return $0 })
        defer { roundsGauge.record(running.withLockedValue { $0 -= 1; return $0 }) }
        let task = job.task.configuration
        logger.notice("global round started", metadata: ["global_round": "\(job.id)", "task": "\(task.name)"])
        let keys = Dictionary(uniqueKeysWithValues: configuration.shards.map { ($0.name, $0.key) })
        let runner = GlobalRoundRunner(
            expectation: task.cohortExpectation(globalRound: job.id, shards: keys), policy: configuration.policy,
            deadline: configuration.deadline)
        let outcome = await runner.run(using: RootShards(root: self))
        var document = GlobalRoundReport.finished(outcome, globalRound: job.id, task: task)
        if let ledger = try? store.ledger(task: task.name), let entry = ledger.entry(roundID: "\(job.id)") {
            document["privacy"] = ["rho": entry.rho, "penalty": entry.penalty, "epsilon_spent_after": ledger.epsilonSpent, "epsilon_limit": ledger.epsilonLimit]
        }
        let state = Task.isCancelled ? "interrupted" : (document["state"] as? String ?? "aborted")
        document["state"] = state
        do {
            try store.finish(globalRound: "\(job.id)", state: state, document: GlobalRoundReport.text(document))
        } catch {
            logger.error("cannot record the global round's end", metadata: ["global_round": "\(job.id)", "error": "\(error)"])
        }
        Counter(label: "secagg_root_global_rounds_total", dimensions: [("state", state)]).increment()
        logger.notice("global round ended", metadata: [
            "global_round": "\(job.id)", "task": "\(task.name)", "state": "\(state)",
            "included": "\(outcome.included.map(\.shard))",
            "excluded": "\(outcome.excluded.map { "\($0.shard): \($0.reason)" })",
        ])
    }

    /// Starts a global round of every task this often.
    func schedule(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            for (name, _) in (try? store.tasks()) ?? [] {
                do {
                    _ = try startGlobalRound(task: name, actor: "schedule")
                } catch {
                    logger.warning("scheduled global round not started", metadata: ["task": "\(name)", "reason": "\(error)"])
                }
            }
        }
    }
}

/// The root's shards for ``GlobalRoundRunner``: one admin session per request.
struct RootShards: ShardAdministration {
    let root: RootService

    func exchange(_ request: AdminRequest, with shard: String) async throws -> AdminResponse {
        guard let known = root.shardsByName[shard] else { throw RootService.Refusal(description: "no shard named \(shard)") }
        return try await root.exchange(request, with: known)
    }
}
