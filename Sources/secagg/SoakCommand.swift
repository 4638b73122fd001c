import ArgumentParser
import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import NIOConcurrencyHelpers

/// `secagg bench soak`: many rounds back to back against a running `secaggd` (a task with `rounds: R`), the same
/// seeded clients re-joining each round, with random dropouts at random phases and injected network faults
/// (``InjectedFault``, plus unauthenticated connections that stall the handshake). Every round must either release
/// the exact sum of its survivors' inputs or abort with a dropout code (`tooFew…`, or `reconstructionFailed`
/// because too few holders of a secret were left); the daemon's resident memory is sampled
/// throughout. Prints a JSON summary and exits 1 if any round failed that check or the daemon died
/// (Benchmarks/soak.sh, SoakTests). A benchmarking tool, not a client.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run rounds with dropouts and network faults against a coordinator and check each one (benchmarks only).")

    @Option(help: "Rounds to run (the task's `rounds`).") var rounds: Int = 10
    @Option(help: "Enrolled clients joining each round (the task's max_clients).") var clients: Int = 20
    @Option(help: "Entries per input vector (the task's dimension).") var dimension: Int = 100
    @Option(help: "Arithmetic modulo 2^bits (the task's bits).") var bits: Int = 32
    @Option(name: .customLong("max-input"), help: "Largest input entry (the task's max_input).") var maxInput: UInt64 = 1000
    @Option(help: "Fraction of the clients that leave at a random phase each round.") var dropout: Double = 0.1
    @Option(help: "Clients per fault kind (trickle, vanish, reset) each round.") var faults: Int = 1
    @Option(name: .customLong("stalled"), help: "Unauthenticated connections per round that stall the handshake.")
    var stalled: Int = 2
    @Option(name: .customLong("trickle-ms"), help: "Milliseconds between a trickling client's bytes.") var trickleMilliseconds: Int = 1
    @Option(name: .customLong("abort-every"), help: "Every Nth round, 80% of the clients leave before their masked input (0: never).")
    var abortEvery: Int = 0
    @Option(name: .customLong("round-timeout"), help: "Seconds to wait for a round's result before counting it as hung.")
    var roundTimeout: Double = 120
    @Option(help: "Seed for identities, inputs, dropouts and faults.") var seed: UInt64 = 1
    @Flag(name: .customLong("print-keys"), help: "Print the clients' public keys (an enrollment file) and exit.")
    var printKeys = false
    @Option(help: "Coordinator port on 127.0.0.1.") var port: Int = 7461
    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key.") var coordinatorKey: String?
    @Option(help: "Task name.") var task: String = "soak"
    @Option(help: "The coordinator's results folder.") var results: String = "results"
    @Option(name: .customLong("daemon-pid"), help: "The coordinator's process id, to sample its memory.") var daemonPID: Int32?
    @Option(name: .customLong("max-drift-mib"), help: "Fail if the daemon's memory grows more than this from the first to the last quarter of the rounds.")
    var maximumDrift: Double?

    func validate() throws {
        guard rounds >= 1, clients >= 4, dimension >= 1, (1...64).contains(bits), (0...1).contains(dropout) else {
            throw ValidationError("need rounds ≥ 1, clients ≥ 4, dimension ≥ 1, bits in 1...64, dropout in 0...1")
        }
        guard 3 * faults < clients else { throw ValidationError("3 × --faults must stay below --clients") }
    }

    func run() async throws {
        let identities = (1...clients).map { index -> Ed25519.SigningKey in
            var random = SeededRandom(seed: seed, stream: "soak-identity-\(index)")
            return Ed25519.SigningKey(using: &random)
        }
        if printKeys {
            for (offset, key) in identities.enumerated() { print("\(key.verifyingKey) soak-\(offset + 1)") }
            return
        }
        guard let coordinatorKey else { throw ValidationError("--coordinator-key is required") }
        let pinned = try IdentityFile.publicKey(fromHex: coordinatorKey)
        let memory = MemorySampler(pid: daemonPID)
        let sampling = Task { await memory.run() }
        defer { sampling.cancel() }

        var summary = SoakSummary()
        let start = ContinuousClock.now
        var seen = Set(resultFiles())
        for round in 1...rounds {
            // The daemon exits by itself after its last round, so it is checked before each round instead of after.
            if let daemonPID, !MemorySampler.isRunning(daemonPID) {
                summary.daemonDied = true
                break
            }
            let plan = RoundPlan(round: round, command: self)
            let outcome = try await runRound(round, plan: plan, identities: identities, pinned: pinned, seen: &seen)
            summary.record(outcome)
            if round < rounds { summary.roundEndResidentMiB.append(memory.current()) }
        }
        sampling.cancel()
        summary.wallSeconds = (ContinuousClock.now - start).seconds
        summary.memory = memory.samples()
        let report = summary.report(rounds: rounds, command: self)
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: data, as: UTF8.self))
        let drift = report["rss_drift_mib"] as? Double ?? 0
        if !summary.passed || (maximumDrift.map { drift > $0 } ?? false) { throw ExitCode(1) }
    }

    /// One round: start every client and fault, wait for the round's result file, check it, tear everything down.
    private func runRound(
        _ round: Int, plan: RoundPlan, identities: [Ed25519.SigningKey], pinned: Ed25519.VerifyingKey, seen: inout Set<String>
    ) async throws -> RoundOutcome {
        let port = port
        let stalls = (0..<stalled).compactMap { index in
            try? StalledConnection(port: port, byteDelay: index.isMultiple(of: 2) ? .milliseconds(200) : nil)
        }
        var proxies: [Int: FaultProxy] = [:]
        for (index, fault) in plan.faults {
            proxies[index] = try FaultProxy(
                upstreamPort: port, trickleDelay: fault == .trickle ? .milliseconds(trickleMilliseconds) : nil)
        }
        let limits = TransportLimits(maximumMessageBytes: max(1 << 20, dimension * 8 + 4096), idleTimeout: .seconds(roundTimeout))
        let (clients, task, roundTimeout, proxyTable) = (clients, task, roundTimeout, proxies)
        let participants = Task {
            await withTaskGroup(of: (Int, Result<ParticipationReceipt, any Error>).self) { group in
                for index in 0..<clients {
                    let proxy = proxyTable[index]
                    let fault = plan.faults[index]
                    let leaveAt = plan.leaveAt[index]
                    let client = SecAggClient(
                        configuration: SecAggClientConfiguration(
                            host: "127.0.0.1", port: proxy?.port ?? port, coordinatorKey: pinned, identity: identities[index],
                            task: task, policy: ClientPolicy(minimumThreshold: 1, minimumSurvivors: 2), limits: limits,
                            connectAttempts: 20, admissionTimeout: .seconds(roundTimeout)),
                        logger: Logger(label: "secagg.soak", factory: { _ in SwiftLogNoOpLogHandler() }))
                    let input = plan.input(of: index)
                    group.addTask {
                        do {
                            return (index, .success(try await client.participate(input: input) { phase in
                                guard phase == leaveAt else { return }
                                switch fault {
                                case .vanish: proxy?.freeze()
                                case .reset: proxy?.reset()
                                case .trickle, nil: break
                                }
                                throw LeftOnPurpose()
                            }))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                var receipts: [Int: ParticipationReceipt] = [:]
                var errors: [String: Int] = [:]
                for await (index, result) in group {
                    switch result {
                    case let .success(receipt):
                        receipts[index] = receipt
                        if case let .aborted(code, reason) = receipt.outcome {
                            errors["aborted, \(AbortCode.rendering(code)): \(reason)", default: 0] += 1
                        }
                    case .failure(is LeftOnPurpose): break
                    case let .failure(error): errors["\(error)", default: 0] += 1
                    }
                }
                return (receipts, errors)
            }
        }
        // The round's result file, or nothing if the round hung.
        let deadline = ContinuousClock.now + .seconds(roundTimeout)
        var fresh: [String] = []
        while fresh.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            fresh = resultFiles().filter { !seen.contains($0) }
            if let daemonPID, !MemorySampler.isRunning(daemonPID) { break }
        }
        seen.formUnion(fresh)
        // Honest clients learn the outcome moments after the file is written; give them that, then stop the rest.
        let grace = Task {
            try await Task.sleep(for: .seconds(5))
            participants.cancel()
        }
        let (receipts, clientErrors) = await participants.value
        grace.cancel()
        for proxy in proxies.values { proxy.close() }
        let closedByDaemon = stalls.filter { $0.closedByCoordinatorAfter != nil }.count
        for stall in stalls { stall.close() }
        var outcome = RoundOutcome(round: round, stalledClosedByDaemon: closedByDaemon, stalled: stalls.count)
        outcome.clientErrors = clientErrors
        guard fresh.count == 1, let file = fresh.first else {
            outcome.problem = fresh.isEmpty ? "no result within \(roundTimeout) s" : "\(fresh.count) results for one round"
            return outcome
        }
        outcome.check(resultFile: URL(fileURLWithPath: results).appendingPathComponent(task).appendingPathComponent(file),
                      plan: plan, identities: identities, receipts: receipts, bits: bits)
        return outcome
    }

    private func resultFiles() -> [String] {
        let folder = URL(fileURLWithPath: results).appendingPathComponent(task).path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") && $0 != "privacy-ledger.json" }
    }
}

/// Thrown from the phase hook by a client the plan makes leave.
struct LeftOnPurpose: Error {}

/// Who leaves when, who carries which fault, and everyone's input, for one round; all derived from the seed.
struct RoundPlan: Sendable {
    var round: Int
    var seed: UInt64
    var dimension: Int
    var maxInput: UInt64
    /// Client index → the phase at which it leaves (dropouts, vanishing and resetting clients).
    var leaveAt: [Int: RoundPhase] = [:]
    /// Client index → its injected fault.
    var faults: [Int: InjectedFault] = [:]

    init(round: Int, command: SoakCommand) {
        self.round = round
        seed = command.seed
        dimension = command.dimension
        maxInput = command.maxInput
        var random = SeededRandom(seed: command.seed, stream: "soak-round-\(round)")
        var order = Array(0..<command.clients)
        for position in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(position, Int(random.uniform(below: UInt64(position + 1))))
        }
        let phases: [RoundPhase] = [.advertiseKeys, .shareKeys, .maskedInputCollection, .unmasking]
        var next = 0
        for fault in InjectedFault.allCases {
            for _ in 0..<command.faults {
                faults[order[next]] = fault
                if fault != .trickle { leaveAt[order[next]] = phases[Int(random.uniform(below: UInt64(phases.count)))] }
                next += 1
            }
        }
        let massAbort = command.abortEvery > 0 && round.isMultiple(of: command.abortEvery)
        let leaving = massAbort
            ? command.clients * 4 / 5
            : Int((command.dropout * Double(command.clients)).rounded(.down))
        for index in order[next...].prefix(leaving) {
            leaveAt[index] = massAbort
                ? [.advertiseKeys, .shareKeys][Int(random.uniform(below: 2))]
                : phases[Int(random.uniform(below: UInt64(phases.count)))]
        }
    }

    /// Client `index`'s input this round, uniform in 0...maxInput.
    func input(of index: Int) -> [UInt64] {
        var random = SeededRandom(seed: seed, stream: "soak-input-\(round)-\(index)")
        return (0..<dimension).map { _ in
            maxInput >= 1 << 32 - 1 ? random.uniform(below: 1 << 32) : random.uniform(below: maxInput + 1)
        }
    }
}

/// What one round came to, as checked against its result file and the clients' receipts.
struct RoundOutcome: Sendable {
    var round: Int
    var stalledClosedByDaemon: Int
    var stalled: Int
    var completed = false
    /// `tooFew…` abort code name, for a round that aborted as the spec allows under dropouts.
    var abortReason: String?
    /// Set when the round did not end as it must (no result, wrong sum, unexpected code, inconsistent receipts).
    var problem: String?
    var wrongSum = false
    var survivors = 0
    var seconds = 0.0
    /// Error or aborted receipt → clients that ended with it (not counting those that left on purpose).
    var clientErrors: [String: Int] = [:]
    /// Phase → clients the coordinator dropped in it.
    var dropped: [String: Int] = [:]
    /// Fault kind → its clients whose input is in the released sum.
    var faultyInSum: [String: Int] = [:]

    /// The abort codes a round with dropouts and faults (but honest parties) may end with; `reconstructionFailed`
    /// too, when ``tooFewHolders(_:)``.
    static let allowedAborts: Set<AbortCode> = [
        .tooFewAdvertised, .tooFewShared, .tooFewMaskedInputs, .tooFewConsistencySignatures, .tooFewUnmaskResponses,
    ]

    /// Whether a `reconstructionFailed` detail says too few holders answered ("only 2 shares of …, threshold is 3"):
    /// SPEC §9 lists that as the dropout case of 0x0201 (holders that left after the share phase). A secret that
    /// could not be rebuilt from enough shares would be a defect with honest clients, and fails the soak.
    static func tooFewHolders(_ detail: String) -> Bool {
        guard detail.hasPrefix("only ") || detail.contains(": only "),
              let only = detail.range(of: "only "), let threshold = detail.range(of: ", threshold is ") else { return false }
        let count = Int(detail[only.upperBound...].prefix { $0.isNumber })
        let required = Int(detail[threshold.upperBound...].prefix { $0.isNumber })
        guard let count, let required else { return false }
        return count < required
    }

    mutating func check(
        resultFile: URL, plan: RoundPlan, identities: [Ed25519.SigningKey], receipts: [Int: ParticipationReceipt], bits: Int
    ) {
        guard let data = try? Data(contentsOf: resultFile), let result = try? PublishedResult.decoded(data) else {
            problem = "unreadable result \(resultFile.lastPathComponent)"
            return
        }
        seconds = result.wallSeconds
        dropped = result.droppedPerPhase
        if result.outcome == .aborted {
            let code = result.abort.flatMap { abort in AbortCode.allCases.first { $0.name == abort.name } }
            let detail = result.abort?.reason ?? ""
            if let code, Self.allowedAborts.contains(code) || (code == .reconstructionFailed && Self.tooFewHolders(detail)) {
                abortReason = "\(code)"
            } else {
                problem = "aborted with an unexpected reason: \(result.abort.map { "\($0.name): \($0.reason)" } ?? "none")"
            }
            if receipts.values.contains(where: { if case .completed = $0.outcome { true } else { false } }) {
                problem = "a client got a completed receipt for an aborted round"
            }
            return
        }
        guard let sum = result.residues else {
            problem = "completed result without a sum"
            return
        }
        let names = result.survivorIdentities
        survivors = names.count
        let indexByKey = Dictionary(uniqueKeysWithValues: identities.enumerated().map { ("\($0.element.verifyingKey)", $0.offset) })
        let indices = names.compactMap { indexByKey[$0] }
        let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        var expected = [UInt64](repeating: 0, count: plan.dimension)
        for index in indices {
            for (position, value) in plan.input(of: index).enumerated() {
                expected[position] = (expected[position] &+ value) & mask
            }
        }
        if indices.count != names.count || Set(indices).count != indices.count || expected != sum {
            wrongSum = true
            problem = "wrong sum"
            return
        }
        // A client that left before sending its masked input cannot be a survivor; one with a completed receipt must be.
        let early: Set<RoundPhase> = [.advertiseKeys, .shareKeys, .maskedInputCollection]
        for index in indices {
            if let phase = plan.leaveAt[index], early.contains(phase) {
                problem = "client \(index) left at \(phase) but is counted as a survivor"
            }
        }
        for (index, receipt) in receipts {
            if case let .completed(count) = receipt.outcome, !indices.contains(index) || count != names.count {
                problem = "client \(index)'s receipt disagrees with the result"
            }
        }
        for index in indices { if let fault = plan.faults[index] { faultyInSum[fault.rawValue, default: 0] += 1 } }
        completed = problem == nil
    }
}

/// The soak's running totals and its JSON report.
struct SoakSummary {
    var outcomes: [RoundOutcome] = []
    var roundEndResidentMiB: [Double] = []
    var memory: [Double] = []
    var wallSeconds = 0.0
    var daemonDied = false

    mutating func record(_ outcome: RoundOutcome) { outcomes.append(outcome) }

    var passed: Bool { !daemonDied && outcomes.allSatisfy { $0.problem == nil } }

    func report(rounds: Int, command: SoakCommand) -> [String: Any] {
        var aborted: [String: Int] = [:]
        for outcome in outcomes { if let reason = outcome.abortReason { aborted[reason, default: 0] += 1 } }
        var dropped: [String: Int] = [:]
        var faultyInSum: [String: Int] = [:]
        var clientErrors: [String: Int] = [:]
        for outcome in outcomes {
            clientErrors.merge(outcome.clientErrors, uniquingKeysWith: +)
            dropped.merge(outcome.dropped, uniquingKeysWith: +)
            faultyInSum.merge(outcome.faultyInSum, uniquingKeysWith: +)
        }
        let problems = outcomes.compactMap { outcome in outcome.problem.map { "round \(outcome.round): \($0)" } }
        var object: [String: Any] = [
            "rounds_planned": rounds, "rounds_run": outcomes.count,
            "rounds_completed": outcomes.filter(\.completed).count,
            "rounds_aborted": aborted, "rounds_failed": problems.count, "problems": problems,
            "wrong_sums": outcomes.filter(\.wrongSum).count,
            "daemon_died": daemonDied, "passed": passed, "wall_seconds": wallSeconds,
            "clients": command.clients, "dimension": command.dimension, "dropout": command.dropout,
            "faults_per_kind": command.faults, "stalled_connections": outcomes.map(\.stalled).reduce(0, +),
            "stalled_closed_by_daemon": outcomes.map(\.stalledClosedByDaemon).reduce(0, +),
            "survivors_per_round": outcomes.map(\.survivors), "dropped_per_phase": dropped,
            "faulty_clients_in_sum": faultyInSum, "client_errors": clientErrors,
            "round_seconds": outcomes.map { ($0.seconds * 1000).rounded() / 1000 },
        ]
        let known = memory.filter { $0 > 0 }
        if let first = known.first, let last = known.last, let peak = known.max() {
            let quarter = max(1, roundEndResidentMiB.count / 4)
            let early = roundEndResidentMiB.prefix(quarter).reduce(0, +) / Double(quarter)
            let late = roundEndResidentMiB.suffix(quarter).reduce(0, +) / Double(quarter)
            object["rss_start_mib"] = first
            object["rss_peak_mib"] = peak
            object["rss_end_mib"] = last
            object["rss_average_mib"] = known.reduce(0, +) / Double(known.count)
            object["rss_samples"] = known.count
            object["rss_round_end_mib"] = roundEndResidentMiB
            object["rss_drift_mib"] = late - early
        }
        return object
    }
}

/// Samples a process's resident memory (VmRSS in /proc/PID/status) once a second.
final class MemorySampler: Sendable {
    private let pid: Int32?
    private let recorded = NIOLockedValueBox<[Double]>([])

    init(pid: Int32?) { self.pid = pid }

    func run() async {
        while !Task.isCancelled {
            let value = current()
            if value > 0 { recorded.withLockedValue { $0.append(value) } }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The resident memory now, in MiB (0 if unknown).
    func current() -> Double {
        pid.flatMap(Self.residentMebibytes(of:)) ?? 0
    }

    /// The process's resident memory in MiB, or nil if it has exited (a zombie has no VmRSS line either).
    static func residentMebibytes(of pid: Int32) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kibibytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kibibytes / 1024
    }

    /// Whether the process still runs (exited but unreaped counts as gone).
    static func isRunning(_ pid: Int32) -> Bool { residentMebibytes(of: pid) != nil }

    func samples() -> [Double] { recorded.withLockedValue { $0 } }
}

extension Duration {
    /// This duration in seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) * 1e-18
    }
}
