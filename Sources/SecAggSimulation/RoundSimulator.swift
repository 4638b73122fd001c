import SecAggCrypto
import SecAggMath
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// What a simulated round measured and concluded.
public struct SimulationReport: Sendable {
    public var configuration: SimulationConfiguration
    public var parameters: ResolvedParameters
    /// The released sum equals the plain sum of the survivors' inputs.
    public var verified: Bool
    public var abortReason: AbortReason?
    /// |U3|: inputs in the sum (0 if aborted before).
    public var survivors: Int
    /// Participants that closed each phase.
    public var survivorsPerPhase: [(phase: RoundPhase, count: Int)]
    /// Wall time of each phase (client work, routing, coordinator work).
    public var phaseSeconds: [(phase: RoundPhase, seconds: Double)]
    public var wallSeconds: Double
    /// Mean encoded bytes sent by / to one client over the round, over the clients whose input is in the sum (over
    /// every invited client when the round aborted, or when the transport only counts totals).
    public var bytesUpPerClient: Double
    public var bytesDownPerClient: Double
    /// The most bytes one of those clients sent / received, when the transport counts per client.
    public var bytesUpMax: Int?
    public var bytesDownMax: Int?
    /// Whom the byte figures cover: "survivors" or "invited".
    public var bytesScope = "invited"
    /// Participants the coordinator dropped, by phase.
    public var droppedPerPhase: [RoundPhase: Int]
    /// Time spent making the clients' inputs and identities before the round (not part of `wallSeconds`, which also
    /// leaves out the harness's check of the release).
    public var setupSeconds: Double = 0
    /// For rounds with noise: the guarantee and the measured error of the release.
    public var privacy: PrivacyOutcome?

    public init(
        configuration: SimulationConfiguration, parameters: ResolvedParameters, verified: Bool, abortReason: AbortReason?,
        survivors: Int, survivorsPerPhase: [(phase: RoundPhase, count: Int)], phaseSeconds: [(phase: RoundPhase, seconds: Double)],
        wallSeconds: Double, bytesUpPerClient: Double, bytesDownPerClient: Double, droppedPerPhase: [RoundPhase: Int]
    ) {
        self.configuration = configuration
        self.parameters = parameters
        self.verified = verified
        self.abortReason = abortReason
        self.survivors = survivors
        self.survivorsPerPhase = survivorsPerPhase
        self.phaseSeconds = phaseSeconds
        self.wallSeconds = wallSeconds
        self.bytesUpPerClient = bytesUpPerClient
        self.bytesDownPerClient = bytesDownPerClient
        self.droppedPerPhase = droppedPerPhase
    }
}

/// The privacy guarantee of a noisy release and its error against the exact sum of the survivors' inputs.
public struct PrivacyOutcome: Sendable {
    public var epsilon: Double
    public var delta: Double
    /// ρ of all rounds: the linear part of the charged Rényi curve (its zCDP cost when ``penalty`` is 0).
    public var rho: Double
    /// η of all rounds: the (α/(α−1)) part of the charged Rényi curve (0 for a zCDP accountant).
    public var penalty: Double
    /// The accountant whose bound was charged.
    public var accountant: PrivacyCalibration.Accountant
    /// σ of the noise in the released sum, sized for the fewest survivors (t_min).
    public var sigma: Double
    /// Per-client σ for distributed noise.
    public var localSigma: Double?
    public var rmse: Double
    public var maximumError: Double
    /// The RMSE the accountant predicts for the actual number of survivors.
    public var predictedRMSE: Double
    /// ε under both neighbouring relations and the trust it assumes, printed next to ε.
    public var statement: PrivacyStatement?
}

/// Runs one round in-process with the real client and coordinator state machines, every message going through
/// the canonical encoding, clients working in parallel (SPEC §8; README "Simulate").
public struct RoundSimulator: Sendable {
    public let configuration: SimulationConfiguration
    private let resolved: ResolvedParameters
    private let progress: (@Sendable (String) -> Void)?

    /// - Throws: ``SimulationConfigurationError`` for unusable options.
    public init(
        configuration: SimulationConfiguration, progress: (@Sendable (String) -> Void)? = nil
    ) throws(SimulationConfigurationError) {
        self.configuration = configuration
        resolved = try configuration.resolve()
        self.progress = progress
    }

    /// The parameters the configuration resolved to.
    public var parameters: ResolvedParameters { resolved }

    /// The input of `client`: entries in 0...maximumInput, reproducible from the seed. (Simulation data, not
    /// protocol randomness: a multiply-shift reduction of 64-bit words, whose bias of at most 2^-32 is harmless here.)
    public func input(of client: ParticipantIndex) -> [UInt64] {
        var random = SeededRandom(seed: configuration.seed, stream: "input-\(client)")
        let bound = resolved.maximumInput
        var values = [UInt64](repeating: 0, count: configuration.dimension)
        values.withUnsafeMutableBytes { random.fill($0) }
        if bound == .max { return values }
        let range = bound + 1
        for position in values.indices {
            values[position] = UInt64(littleEndian: values[position]).multipliedFullWidth(by: range).high
        }
        return values
    }

    /// Which clients drop, and in which phase: floor(rate · n) clients chosen from the seed.
    public func dropPlan() -> [ParticipantIndex: RoundPhase] {
        let count = Int((configuration.dropoutRate * Double(configuration.clients)).rounded(.down))
        var random = SeededRandom(seed: configuration.seed, stream: "dropouts")
        var indices = (1...UInt32(configuration.clients)).map { $0 }
        for position in stride(from: indices.count - 1, to: 0, by: -1) {
            let other = Int(random.uniform(below: UInt64(position + 1)))
            indices.swapAt(position, other)
        }
        let phases: [RoundPhase] = configuration.mode == .active
            ? RoundPhase.allCases
            : RoundPhase.allCases.filter { $0 != .consistencyCheck }
        var plan: [ParticipantIndex: RoundPhase] = [:]
        for index in indices.prefix(count) {
            plan[index] = configuration.dropPhase.roundPhase
                ?? phases[Int(random.uniform(below: UInt64(phases.count)))]
        }
        return plan
    }

    /// Runs the round to completion or abort.
    public func run() async -> SimulationReport {
        let clock = ContinuousClock()
        // Inputs stand for the clients' own data: they are made before the round's clock starts, like Flower's
        // training stub, whose time its harness excludes.
        let setupStart = clock.now
        var inputs = await compactInputs()
        let count = configuration.clients
        let indices = (1...UInt32(count)).map { $0 }
        let plan = dropPlan()

        // The clients' long-term identities exist before any round, like their inputs: setup, not round time.
        var identities: [ParticipantIndex: Ed25519.SigningKey] = [:]
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for index in indices {
            var random = SeededRandom(seed: configuration.seed, stream: "identity-\(index)")
            let key = Ed25519.SigningKey(using: &random)
            identities[index] = key
            roster[index] = RosterEntry(identity: key.verifyingKey)
        }
        let setupSeconds = (clock.now - setupStart).seconds
        let start = clock.now

        // The coordinator (its construction validates the roster: round time).
        var nonceSource = SeededRandom(seed: configuration.seed, stream: "round")
        guard let roundID = RoundID(bytes: nonceSource.bytes(16)) else { preconditionFailure("16 bytes") }
        let roundParameters = RoundParameters(
            roundID: roundID, taskName: "simulation", dimension: UInt32(resolved.laneCount),
            bits: UInt8(configuration.bits), maximumInput: resolved.maximumInput, graph: resolved.graph,
            threshold: UInt32(resolved.threshold), minimumSurvivors: UInt32(resolved.minimumSurvivors),
            mode: configuration.mode, invitedCount: UInt32(count), nonce: nonceSource.bytes(32), noise: resolved.noise)

        var report = SimulationReport(
            configuration: configuration, parameters: resolved, verified: false, abortReason: nil, survivors: 0,
            survivorsPerPhase: [], phaseSeconds: [], wallSeconds: 0, bytesUpPerClient: 0, bytesDownPerClient: 0,
            droppedPerPhase: [:])
        var coordinator: CoordinatorStateMachine
        do {
            coordinator = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
                parameters: roundParameters, roster: roster, timeouts: .uniform(.seconds(3600)),
                noiseSource: SeededRandom(seed: configuration.seed, stream: "central-noise")))
        } catch {
            report.abortReason = AbortReason(.parametersRejected, "\(error)")
            return report
        }

        var clients: [ParticipantIndex: ClientStateMachine] = [:]
        var bytesUp: [ParticipantIndex: Int] = [:]
        var bytesDown: [ParticipantIndex: Int] = [:]
        var now: ProtocolInstant { ProtocolInstant(nanoseconds: UInt64((clock.now - start).nanosecondsClamped)) }
        var actions: [CoordinatorAction]
        do {
            actions = try coordinator.start(now: now)
        } catch {
            preconditionFailure("a new coordinator starts")
        }
        var finished = false
        var result: RoundResult?
        while !finished {
            let phaseStart = clock.now
            let phase = coordinator.phase
            // Route the coordinator's output in chunks of about 2,048 recipients: each message is encoded once (a
            // broadcast is the same bytes for every recipient), counted in every recipient's download and decoded by
            // the recipient's worker; the chunk's clients answer and their replies go to the coordinator before the
            // next chunk is encoded. At 10^5 clients this keeps one chunk of messages in memory, not a phase's.
            var sends: [PendingSend] = []
            for action in actions {
                switch action {
                case let .send(message, recipients):
                    sends.append(.message(message, recipients))
                case let .sendShareKeysRequests(requests):
                    sends += requests.recipients.map { .shareKeysRequest(requests, $0) }
                case let .participantDropped(_, dropPhase, _):
                    report.droppedPerPhase[dropPhase, default: 0] += 1
                case let .completed(released):
                    result = released
                    finished = true
                case let .aborted(reason):
                    report.abortReason = reason
                    finished = true
                case .phaseStarted, .inconsistentShares:
                    break
                }
            }
            actions = []
            sends.reverse()
            var replyCount = 0
            var processed = 0
            while !sends.isEmpty {
                var deliveries: [ParticipantIndex: [[UInt8]]] = [:]
                var received: [ParticipantIndex: Int] = [:]
                var taken = 0
                while taken < 2_048, let next = sends.popLast() {
                    let (message, recipients) = next.message
                    let bytes = message.encoded
                    for recipient in recipients {
                        deliveries[recipient, default: []].append(bytes)
                        received[recipient, default: 0] += bytes.count
                    }
                    taken += recipients.count
                }
                // Clients scheduled to drop in this phase vanish before answering.
                var work: [ClientWork] = []
                for (recipient, messages) in deliveries.sorted(by: { $0.key < $1.key }) {
                    bytesDown[recipient, default: 0] += received[recipient] ?? 0
                    if let phase, plan[recipient] == phase {
                        clients[recipient] = nil
                        for action in coordinator.participantDisconnected(recipient, now: now) {
                            if case let .participantDropped(_, dropPhase, _) = action {
                                report.droppedPerPhase[dropPhase, default: 0] += 1
                            }
                        }
                        continue
                    }
                    guard let identity = identities[recipient] else { continue }
                    // Simulated clients accept any valid parameters (thresholds down to 1) to exercise the protocol.
                    let machine: ClientStateMachine
                    if let existing = clients[recipient] {
                        machine = existing
                    } else if let lanes = inputs.removeValue(forKey: recipient) {
                        machine = ClientStateMachine(
                            configuration: ClientConfiguration(identity: identity, policy: ClientPolicy(minimumThreshold: 1, minimumSurvivors: 2)),
                            input: lanes)
                    } else {
                        continue
                    }
                    work.append(ClientWork(index: recipient, machine: machine, messages: messages,
                                           phaseTag: phase.map { "\($0)" } ?? "end"))
                }
                deliveries = [:]
                if work.isEmpty { continue }
                let outcomes = await process(work)
                work = []
                // Large rounds take minutes per phase: say how far the clients got, every 10,000.
                let before = processed
                processed += outcomes.count
                if let phase, processed / 10_000 > before / 10_000 {
                    progress?("phase \(phase): \(processed) clients answered so far")
                }
                for outcome in outcomes {
                    clients[outcome.index] = outcome.machine.receipt == nil ? outcome.machine : nil
                    for reply in outcome.replies {
                        bytesUp[outcome.index, default: 0] += reply.count
                        replyCount += 1
                        // After the round's end the coordinator takes nothing more.
                        if finished { continue }
                        do {
                            let message = try ClientMessage(decoding: reply)
                            actions += try coordinator.handle(message, from: outcome.index, now: now)
                        } catch {
                            actions += coordinator.participantDisconnected(outcome.index, now: now)
                        }
                    }
                }
            }
            if finished { break }
            if let phase {
                progress?("phase \(phase): \(replyCount) replies")
            }
            actions += coordinator.advance(now: now)
            if let phase {
                report.phaseSeconds.append((phase, (clock.now - phaseStart).seconds))
            }
        }
        // The round ends here; checking its release against the plain sum (regenerating the survivors' inputs) is
        // the harness's work, not the protocol's, and stays out of the wall time.
        report.wallSeconds = (clock.now - start).seconds
        if let result {
            report.survivors = result.survivors.count
            if resolved.calibration != nil {
                report.privacy = measure(release: result.sum, survivors: result.survivors)
                // A noisy release cannot equal the exact sum; it is accepted when no entry is further from it than
                // 10 predicted standard deviations (a wrong unmasking or a wrap would be far beyond that).
                report.verified = report.privacy.map(isConsistent) ?? false
            } else {
                report.verified = verify(result)
            }
            report.survivorsPerPhase = RoundPhase.allCases.compactMap { phase in
                result.phaseCounts[phase].map { (phase, $0) }
            }
        }
        report.setupSeconds = setupSeconds
        // Per-client cost is what a surviving client paid; dropped clients stopped early and would understate it.
        let measured = result.map(\.survivors) ?? Array(1...UInt32(count))
        report.bytesScope = result == nil ? "invited" : "survivors"
        let up = measured.map { bytesUp[$0] ?? 0 }
        let down = measured.map { bytesDown[$0] ?? 0 }
        report.bytesUpPerClient = Double(up.reduce(0, +)) / Double(max(1, measured.count))
        report.bytesDownPerClient = Double(down.reduce(0, +)) / Double(max(1, measured.count))
        report.bytesUpMax = up.max()
        report.bytesDownMax = down.max()
        return report
    }

    /// Compares the noisy release with the exact sum of the survivors' inputs.
    /// The privacy and error of a noisy `release` of the inputs of `survivors` (nil for a round without noise).
    public func measure(release: ModularVector, survivors: [ParticipantIndex]) -> PrivacyOutcome? {
        guard let calibration = resolved.calibration else { return nil }
        let result = Release(sum: release, survivors: survivors)
        if let encoding = resolved.floatEncoding {
            return measureFloat(result, calibration: calibration, encoding: encoding)
        }
        return measurePrivacy(result, calibration: calibration)
    }

    /// A released sum and whose inputs it holds.
    private struct Release {
        var sum: ModularVector
        var survivors: [ParticipantIndex]
    }

    /// Whether a noisy release is consistent with the noise (no entry beyond 10 predicted standard deviations).
    public func isConsistent(_ outcome: PrivacyOutcome) -> Bool {
        let floor = resolved.floatEncoding == nil ? 1.0 : 0
        return outcome.maximumError <= 10 * max(outcome.predictedRMSE, floor)
    }

    private func measurePrivacy(_ result: Release, calibration: PrivacyCalibration) -> PrivacyOutcome {
        var exact = [Int64](repeating: 0, count: configuration.dimension)
        for survivor in result.survivors {
            for (position, value) in input(of: survivor).enumerated() { exact[position] += Int64(value) }
        }
        let released = result.sum.signedValues
        var squares = 0.0
        var largest = 0.0
        for position in exact.indices {
            let error = Double(released[position] - exact[position])
            squares += error * error
            largest = max(largest, abs(error))
        }
        let predicted = (try? calibration.predictedRMSE(survivors: result.survivors.count)) ?? .nan
        return PrivacyOutcome(
            epsilon: calibration.epsilon, delta: calibration.delta, rho: calibration.rhoTotal,
            penalty: calibration.curvePerRelease.repeated(calibration.parameters.rounds).penalty,
            accountant: calibration.accountant, sigma: calibration.sigma,
            localSigma: calibration.localSigma, rmse: (squares / Double(exact.count)).squareRoot(),
            maximumError: largest, predictedRMSE: predicted, statement: try? PrivacyStatement(calibration))
    }

    /// The real input of `client` for the float encoder: entries uniform in [−1, 1], reproducible from the seed.
    public func floatInput(of client: ParticipantIndex) -> [Double] {
        var random = SeededRandom(seed: configuration.seed, stream: "float-input-\(client)")
        return (0..<configuration.dimension).map { _ in Double(random.nextUInt32()) / Double(UInt32.max) * 2 - 1 }
    }

    /// The lanes a float-encoding client sends: its rounded integer vector z shifted by `shift` into 0...2·shift.
    public func floatLanes(of client: ParticipantIndex, encoding: FloatEncoding) -> ModularVector? {
        var rounding = SeededRandom(seed: configuration.seed, stream: "rounding-\(client)")
        guard let z = try? encoding.encoder.quantize(
            floatInput(of: client), rotationSeed: encoding.rotationSeed, using: &rounding) else { return nil }
        let shift = Int64(encoding.shift)
        return try? ModularVector(values: z.map { UInt64($0 + shift) }, bits: configuration.bits)
    }

    /// Decodes a float-encoded noisy release and compares it with the exact sum of the survivors' clipped vectors.
    private func measureFloat(
        _ result: Release, calibration: PrivacyCalibration, encoding: FloatEncoding
    ) -> PrivacyOutcome {
        let survivors = result.survivors.count
        let shiftTotal = Int64(encoding.shift) * Int64(survivors)
        let lanes = result.sum.signedValues.map { SignedModular.wrap($0 - shiftTotal, bits: configuration.bits) }
        let decoded = (try? encoding.encoder.decodeSum(lanes, rotationSeed: encoding.rotationSeed)) ?? []
        var exact = [Double](repeating: 0, count: configuration.dimension)
        for survivor in result.survivors {
            guard let clipped = try? encoding.encoder.clipped(floatInput(of: survivor)) else { continue }
            for position in exact.indices { exact[position] += clipped[position] }
        }
        var squares = 0.0
        var largest = 0.0
        for position in exact.indices where position < decoded.count {
            let error = decoded[position] - exact[position]
            squares += error * error
            largest = max(largest, abs(error))
        }
        if decoded.count != exact.count { largest = .infinity }
        // Noise plus the rounding error (variance at most 1/4 per client and entry), in real units.
        let predicted = (try? calibration.predictedRMSE(
            survivors: survivors, scale: 1 / encoding.encoder.granularity, roundingVariancePerClient: 0.25)) ?? .nan
        return PrivacyOutcome(
            epsilon: calibration.epsilon, delta: calibration.delta, rho: calibration.rhoTotal,
            penalty: calibration.curvePerRelease.repeated(calibration.parameters.rounds).penalty,
            accountant: calibration.accountant, sigma: calibration.sigma,
            localSigma: calibration.localSigma, rmse: (squares / Double(max(1, exact.count))).squareRoot(),
            maximumError: largest, predictedRMSE: predicted, statement: try? PrivacyStatement(calibration))
    }

    /// Every client's input as lanes of `bits`, made on `workers` tasks.
    private func compactInputs() async -> [ParticipantIndex: ModularVector] {
        let workers = max(1, configuration.workers)
        let count = configuration.clients
        let bits = configuration.bits
        return await withTaskGroup(of: [(ParticipantIndex, ModularVector)].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    stride(from: worker + 1, through: count, by: workers).compactMap { index in
                        let client = ParticipantIndex(index)
                        if let encoding = resolved.floatEncoding {
                            return floatLanes(of: client, encoding: encoding).map { (client, $0) }
                        }
                        return (try? ModularVector(values: input(of: client), bits: bits)).map { (client, $0) }
                    }
                }
            }
            var all: [ParticipantIndex: ModularVector] = [:]
            for await part in group { for (client, lanes) in part { all[client] = lanes } }
            return all
        }
    }

    /// Recomputes the plain sum of the survivors' inputs and compares it with the released sum.
    private func verify(_ result: RoundResult) -> Bool {
        guard var expected = try? ModularVector(zeros: configuration.dimension, bits: configuration.bits) else { return false }
        for survivor in result.survivors {
            guard let vector = try? ModularVector(values: input(of: survivor), bits: configuration.bits),
                  (try? expected.add(vector)) != nil else { return false }
        }
        // The parameters rule out wrap-around, so equality mod 2^bits is equality of the integer sums.
        return expected == result.sum
    }

    private struct ClientWork: Sendable {
        var index: ParticipantIndex
        var machine: ClientStateMachine
        /// Encoded coordinator messages, decoded by the worker.
        var messages: [[UInt8]]
        var phaseTag: String
    }

    private struct ClientOutcome: Sendable {
        var index: ParticipantIndex
        var machine: ClientStateMachine
        var replies: [[UInt8]]
    }

    /// Lets each client handle its messages, spread over `workers` tasks.
    private func process(_ work: [ClientWork]) async -> [ClientOutcome] {
        let workers = max(1, min(configuration.workers, work.count))
        let seed = configuration.seed
        return await withTaskGroup(of: [ClientOutcome].self) { group in
            for worker in 0..<workers {
                let slice = stride(from: worker, to: work.count, by: workers).map { work[$0] }
                group.addTask {
                    slice.map { item in Self.step(item, seed: seed) }
                }
            }
            var all: [ClientOutcome] = []
            for await part in group { all += part }
            return all.sorted { $0.index < $1.index }
        }
    }

    private static func step(_ item: ClientWork, seed: UInt64) -> ClientOutcome {
        var machine = item.machine
        var random = SeededRandom(seed: seed, stream: "client-\(item.index)-\(item.phaseTag)")
        var replies: [[UInt8]] = []
        for bytes in item.messages {
            guard let message = try? CoordinatorMessage(decoding: bytes) else {
                preconditionFailure("the coordinator's own encoding must decode")
            }
            do {
                for action in try machine.handle(message, using: &random) {
                    if case let .send(reply) = action { replies.append(reply.encoded) }
                }
            } catch {
                if let abort = machine.abort(.coordinatorMisbehaved, detail: "\(error)") {
                    replies.append(abort.encoded)
                }
            }
        }
        return ClientOutcome(index: item.index, machine: machine, replies: replies)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds) &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}

extension UInt64 {
    /// All bits up to and including the highest set bit.
    var nextPowerOfTwoMask: UInt64 {
        self == 0 ? 0 : UInt64.max >> UInt64(leadingZeroBitCount)
    }
}

/// A message the simulated coordinator has yet to deliver: one for its recipients, or a ShareKeysRequest built only
/// when its chunk is routed (at 10^5 clients all of them at once would be a gigabyte).
private enum PendingSend {
    case message(CoordinatorMessage, [ParticipantIndex])
    case shareKeysRequest(ShareKeysRequests, ParticipantIndex)

    var message: (CoordinatorMessage, [ParticipantIndex]) {
        switch self {
        case let .message(message, recipients): (message, recipients)
        case let .shareKeysRequest(requests, recipient): (.shareKeysRequest(requests.request(for: recipient)), [recipient])
        }
    }
}
