import SecAggMath
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// One aggregation task the coordinator runs rounds for (README "Configuration").
public struct TaskConfiguration: Sendable, Hashable {
    /// How the neighbour graph is chosen for each round.
    public enum Graph: Sendable, Hashable {
        /// Every pair of clients masks (classic SecAgg).
        case complete
        /// A Harary graph of this degree (SecAgg+).
        case harary(degree: Int)
        /// The parameter finder picks the degree and threshold from the round's client count, the tolerated
        /// dropout rate and the assumed corrupt rate (2^-40 security, 2^-20 failure).
        case automatic
    }

    public var name: String
    /// Entries per vector on the wire (with a real-vector encoder, the padded length D, not d).
    public var dimension: Int
    public var bits: Int
    /// How clients encode real vectors (SPEC §5.11), if they do: the released sum is then also decoded into reals
    /// (``PublishedResult/decoded``). Its values fix `dimension` (D) and `maximumInput` (2B).
    public var encoder: RealVectorEncoding?
    /// Largest value of an input entry; `maximumClients · maximumInput` must fit below 2^bits.
    public var maximumInput: UInt64
    public var graph: Graph
    /// Fixed Shamir threshold, or nil to derive it (parameter finder, or a majority for the complete graph).
    public var threshold: Int?
    /// A round starts once this many clients wait (after `gatherWindow`), and never with fewer.
    public var minimumClients: Int
    /// At most this many clients take part in one round; more wait for the next.
    public var maximumClients: Int
    /// Fewest survivors in any phase; nil means threshold + 1.
    public var minimumSurvivors: Int?
    public var mode: RoundMode
    /// Dropout rate the automatic parameters tolerate.
    public var dropoutRate: Double
    /// Corrupt-client rate the automatic parameters assume.
    public var corruptRate: Double
    public var timeouts: PhaseTimeouts
    /// How long to keep gathering clients once `minimumClients` are waiting, hoping for `maximumClients`.
    public var gatherWindow: Duration
    /// Stop after this many completed or aborted rounds (nil: run until shut down).
    public var rounds: Int?
    /// Most clients that may wait for a round of this task; a join beyond it is refused with `queueFull` (SPEC
    /// §4.9). Nil: four rounds' worth (4 × `maximumClients`).
    public var maximumWaiting: Int?
    /// Differential privacy of each release and the task's total budget (nil: exact sums).
    public var privacy: TaskPrivacy?
    /// Rounds start only when asked (`secagg admin round start`, or a root's global round), never because
    /// `max_clients` wait or the gather window ended: what a shard's root-driven task needs (key `start: on_request`).
    public var startsOnRequest = false

    public init(
        name: String, dimension: Int, bits: Int = 32, maximumInput: UInt64, graph: Graph = .automatic,
        threshold: Int? = nil, minimumClients: Int, maximumClients: Int, minimumSurvivors: Int? = nil,
        mode: RoundMode = .honestButCurious, dropoutRate: Double = 0.1, corruptRate: Double = 0.05,
        timeouts: PhaseTimeouts = PhaseTimeouts(), gatherWindow: Duration = .seconds(2), rounds: Int? = nil,
        privacy: TaskPrivacy? = nil, maximumWaiting: Int? = nil, encoder: RealVectorEncoding? = nil
    ) {
        self.encoder = encoder
        self.maximumWaiting = maximumWaiting
        self.name = name
        self.dimension = dimension
        self.bits = bits
        self.maximumInput = maximumInput
        self.graph = graph
        self.threshold = threshold
        self.minimumClients = minimumClients
        self.maximumClients = maximumClients
        self.minimumSurvivors = minimumSurvivors
        self.mode = mode
        self.dropoutRate = dropoutRate
        self.corruptRate = corruptRate
        self.timeouts = timeouts
        self.gatherWindow = gatherWindow
        self.rounds = rounds
        self.privacy = privacy
    }

    /// Every problem with this task, each as one sentence saying what to change (empty if none).
    public func problems() -> [String] {
        var problems: [String] = []
        let prefix = "task \(name.isEmpty ? "(unnamed)" : "'\(name)'")"
        if name.utf8.isEmpty || name.utf8.count > WireLimits.maximumTaskNameBytes {
            problems.append("\(prefix): name must be 1...255 bytes")
        }
        if dimension < 1 || dimension > WireLimits.maximumDimension {
            problems.append("\(prefix): dimension must be 1...\(WireLimits.maximumDimension)")
        }
        if !(1...64).contains(bits) { problems.append("\(prefix): bits must be 1...64") }
        if minimumClients < 3 { problems.append("\(prefix): min_clients must be at least 3") }
        if let maximumWaiting, maximumWaiting < minimumClients {
            problems.append("\(prefix): max_waiting must be at least min_clients (a round could never gather)")
        }
        if maximumClients < minimumClients {
            problems.append("\(prefix): max_clients must be at least min_clients")
        }
        if maximumClients > WireLimits.maximumParticipants {
            problems.append("\(prefix): max_clients must be at most \(WireLimits.maximumParticipants)")
        }
        if (1...64).contains(bits), maximumClients >= 1 {
            let limit: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
            let (product, overflow) = UInt64(maximumClients).multipliedReportingOverflow(by: maximumInput)
            if overflow || product > limit {
                problems.append(
                    "\(prefix): \(maximumClients) inputs of up to \(maximumInput) may sum past 2^\(bits) - 1; "
                        + "raise bits, lower max_input to \(limit / UInt64(maximumClients)), or lower max_clients")
            }
        }
        if !(0..<1).contains(dropoutRate) { problems.append("\(prefix): dropout_rate must be in [0, 1)") }
        if !(0..<1).contains(corruptRate) { problems.append("\(prefix): corrupt_rate must be in [0, 1)") }
        if case let .harary(degree) = graph, degree < 1 { problems.append("\(prefix): degree must be at least 1") }
        if let threshold, threshold < 1 { problems.append("\(prefix): threshold must be at least 1") }
        if let rounds, rounds < 1 { problems.append("\(prefix): rounds must be at least 1") }
        if let privacy { problems += privacy.problems(prefix: prefix) }
        if problems.isEmpty { problems += roundProblems(prefix: prefix) }
        return problems
    }

    /// What a round of this task would refuse, for the smallest and the largest cohort it may have (min_clients,
    /// max_clients): the graph and threshold must fit, the noise must calibrate, and the round parameters must pass
    /// the checks every client makes (SPEC §5.2: the sum, with 8 σ of noise, must fit below 2^bits). Part of
    /// ``problems()``, so `--check-config` and `admin task create` refuse a task whose every round would abort with
    /// parametersRejected.
    private func roundProblems(prefix: String) -> [String] {
        var problems: [String] = []
        for clients in Set([minimumClients, maximumClients]).sorted() {
            let plan: (graph: GraphShape, threshold: Int, minimumSurvivors: Int)
            do {
                plan = try self.plan(clientCount: clients)
            } catch {
                problems.append("\(prefix): a round of \(clients) clients cannot be planned: \(error) "
                    + "(change threshold, min_survivors, degree or min_clients)")
                continue
            }
            var noise = NoiseParameters.none
            if let privacy {
                do {
                    noise = try privacy.noise(
                        dimension: dimension, minimumSurvivors: plan.minimumSurvivors, clients: clients).noise
                } catch {
                    problems.append("\(prefix): the noise of a round of \(clients) clients cannot be calibrated: \(error)")
                    continue
                }
            }
            guard let roundID = RoundID(bytes: [UInt8](repeating: 0, count: 16)) else { continue }
            let parameters = RoundParameters(
                roundID: roundID, taskName: name, dimension: UInt32(dimension), bits: UInt8(bits),
                maximumInput: maximumInput, graph: plan.graph, threshold: UInt32(plan.threshold),
                minimumSurvivors: UInt32(plan.minimumSurvivors), mode: mode, invitedCount: UInt32(clients),
                nonce: [UInt8](repeating: 0, count: 32), noise: noise)
            do {
                try parameters.validate()
            } catch {
                problems.append("\(prefix): clients would refuse a round of \(clients): \(error)")
            }
        }
        return problems
    }

    /// One line for `--check-config` and the admin listing: the task's size, graph, mode and privacy settings.
    public var summary: String {
        var line = "\(name): dimension \(dimension), \(bits) bits, inputs 0...\(maximumInput), "
            + "\(minimumClients)...\(maximumClients) clients, "
        switch graph {
        case .complete: line += "complete graph"
        case let .harary(degree): line += "harary graph of degree \(degree)"
        case .automatic: line += "graph auto (dropout \(dropoutRate), corrupt \(corruptRate))"
        }
        if let threshold { line += ", threshold \(threshold)" }
        line += mode == .active ? ", active mode" : ", honest mode"
        if let rounds { line += ", \(rounds) round(s)" }
        if startsOnRequest { line += ", rounds on request" }
        guard let privacy else { return line + "; privacy: none (exact sums are released)" }
        line += "; privacy: \(privacy.placement == .central ? "central" : "distributed") noise, "
        if let epsilon = privacy.epsilonPerRound { line += "epsilon \(epsilon) per round" }
        if let sigma = privacy.sigma { line += "sigma \(sigma)" }
        return line + " at delta \(privacy.delta), clip \(privacy.l2Sensitivity), budget epsilon \(privacy.budgetEpsilon)"
    }

    /// What a root charges its global ledger for one global round of this task (protocol/FEDERATION.md §6), before
    /// it starts: the calibration of the most privacy-costly cohort the task admits — one of `min_clients` clients
    /// planned as a shard plans it. A client is in one cohort, so this bounds every client's loss in the round
    /// (parallel composition); nil without differential privacy.
    ///
    /// - Throws: ``RoundPlanningError`` or `AccountingError` when no cohort of `min_clients` can be planned or
    ///   calibrated.
    public func globalRoundCalibration() throws -> PrivacyCalibration? {
        guard let privacy else { return nil }
        let smallest = try plan(clientCount: minimumClients)
        return try privacy.calibration(dimension: dimension, minimumSurvivors: smallest.minimumSurvivors, clients: minimumClients)
    }

    /// The graph, threshold and minimum survivors for a round with `clientCount` participants.
    ///
    /// - Throws: ``RoundPlanningError`` when no valid parameters exist for that many clients.
    public func plan(clientCount: Int) throws(RoundPlanningError) -> (graph: GraphShape, threshold: Int, minimumSurvivors: Int) {
        let holdersLimit = clientCount - 1
        var degree = holdersLimit
        var chosenThreshold: Int
        switch graph {
        case .complete:
            chosenThreshold = mode == .active ? holdersLimit * 2 / 3 + 1 : holdersLimit / 2 + 1
        case let .harary(requested):
            degree = min(requested, holdersLimit)
            let holders = min(degree + degree % 2, holdersLimit)
            chosenThreshold = mode == .active ? holders * 2 / 3 + 1 : degree / 2 + 1
        case .automatic:
            do {
                let found = try ParameterFinder.find(
                    clientCount: clientCount, dropoutRate: max(dropoutRate, 0.001), corruptRate: corruptRate,
                    model: mode == .active ? .active : .honestButCurious)
                degree = min(found.degree, holdersLimit)
                chosenThreshold = found.threshold
            } catch {
                throw RoundPlanningError(reason: "no SecAgg+ parameters for \(clientCount) clients: \(error)")
            }
        }
        if let threshold { chosenThreshold = threshold }
        let survivors = minimumSurvivors ?? chosenThreshold + 1
        let shape: GraphShape = degree < holdersLimit ? .harary(degree: UInt32(degree)) : .complete
        guard chosenThreshold >= 1, chosenThreshold <= degree, survivors > chosenThreshold, survivors <= clientCount else {
            throw RoundPlanningError(reason:
                "threshold \(chosenThreshold) and minimum survivors \(survivors) do not fit \(clientCount) clients of degree \(degree)")
        }
        return (shape, chosenThreshold, survivors)
    }
}

/// Why a round could not be planned for the clients that are waiting.
public struct RoundPlanningError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The DP settings of a task: where the noise comes from, how much per release, and the total budget the
/// coordinator enforces before every round (README "Differential privacy").
public struct TaskPrivacy: Sendable, Hashable {
    public var placement: NoisePlacement
    /// ε per release (σ is calibrated for each round's cohort), or nil to use `sigma`.
    public var epsilonPerRound: Double?
    /// Fixed σ instead: per client for distributed noise, of the release for central noise.
    public var sigma: Double?
    public var delta: Double
    /// Δ₂: the largest L2 norm of one client's input vector, in integer units.
    public var l2Sensitivity: Double
    /// Total ε the task may spend at `delta`, over all its releases.
    public var budgetEpsilon: Double

    public init(
        placement: NoisePlacement, epsilonPerRound: Double?, sigma: Double? = nil, delta: Double, l2Sensitivity: Double,
        budgetEpsilon: Double
    ) {
        self.placement = placement
        self.epsilonPerRound = epsilonPerRound
        self.sigma = sigma
        self.delta = delta
        self.l2Sensitivity = l2Sensitivity
        self.budgetEpsilon = budgetEpsilon
    }

    func problems(prefix: String) -> [String] {
        var problems: [String] = []
        if (epsilonPerRound == nil) == (sigma == nil) {
            problems.append("\(prefix): privacy needs exactly one of epsilon_per_round and sigma")
        }
        if let epsilonPerRound, !(epsilonPerRound > 0) { problems.append("\(prefix): privacy.epsilon_per_round must be positive") }
        if let sigma, !(sigma > 0) { problems.append("\(prefix): privacy.sigma must be positive") }
        if !(delta > 0 && delta < 1) { problems.append("\(prefix): privacy.delta must be in (0, 1)") }
        if !(l2Sensitivity > 0) { problems.append("\(prefix): privacy.clip (the L2 sensitivity) must be positive") }
        if !(budgetEpsilon > 0) { problems.append("\(prefix): privacy.budget_epsilon must be positive") }
        return problems
    }

    /// The noise of one release for a cohort of `clients` accepting at least `minimumSurvivors`: its calibration
    /// (what the budget is charged) and the exact variance each sampler uses (the coordinator's, centrally; each
    /// client's, distributed), rounded up so the noise is never below the calibrated σ.
    ///
    /// - Throws: `AccountingError` if no calibration fits; `PrivacyError` if the variance has no exact fraction.
    func noise(dimension: Int, minimumSurvivors: Int, clients: Int) throws -> (
        calibration: PrivacyCalibration, noise: NoiseParameters
    ) {
        let calibration = try self.calibration(dimension: dimension, minimumSurvivors: minimumSurvivors, clients: clients)
        let sigma = placement == .central ? calibration.sigma : (calibration.localSigma ?? calibration.sigma)
        let variance = try Rational.roundedUp(sigma * sigma)
        let fraction = NoiseVariance(numerator: variance.numerator, denominator: variance.denominator)
        return (calibration, placement == .central ? .central(variance: fraction) : .distributed(localVariance: fraction))
    }

    /// The calibration of one release for a cohort of `clients` accepting at least `minimumSurvivors`.
    func calibration(dimension: Int, minimumSurvivors: Int, clients: Int) throws(AccountingError) -> PrivacyCalibration {
        let parameters = PrivacyCalibration.Parameters(
            placement: placement, l2Sensitivity: l2Sensitivity, dimension: dimension,
            minimumSurvivors: minimumSurvivors, maximumSurvivors: clients, delta: delta)
        return try PrivacyCalibration.calibrate(epsilon: epsilonPerRound, orSigma: sigma, parameters: parameters)
    }
}
