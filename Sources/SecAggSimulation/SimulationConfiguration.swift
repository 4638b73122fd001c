import SecAggMath
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

/// How a simulated round is carried.
public enum SimulationTransport: String, Sendable, CaseIterable, Codable {
    /// The client and coordinator state machines exchange messages in memory (``RoundSimulator``).
    case inprocess
    /// A coordinator service and clients in one process over loopback TCP with Noise, with the same seeds, inputs
    /// and dropouts. The `secagg` CLI runs it (it owns the network stack); ``RoundSimulator/run()`` always runs in
    /// memory, so whoever runs a configuration must look at this field (an experiment sweep refuses a `.tcp` run
    /// it has no runner for).
    case tcp
}

/// Where simulated clients drop out.
public enum DropPhase: String, Sendable, CaseIterable, Codable {
    case advertise, share, masked, consistency, unmask, random

    /// The protocol phase, or nil for `random`.
    public var roundPhase: RoundPhase? {
        switch self {
        case .advertise: return .advertiseKeys
        case .share: return .shareKeys
        case .masked: return .maskedInputCollection
        case .consistency: return .consistencyCheck
        case .unmask: return .unmasking
        case .random: return nil
        }
    }
}

/// How a simulated round's neighbour count and threshold are chosen.
public enum Choice<Value: Sendable & Equatable>: Sendable, Equatable {
    case automatic
    case fixed(Value)
}

/// Everything that defines a simulated round. Defaults give a demo round of a few seconds.
public struct SimulationConfiguration: Sendable, Equatable {
    public var clients: Int = 100
    public var dimension: Int = 10_000
    public var bits: Int = 32
    /// Fraction of clients that actually drop out (floor(rate · clients) of them). It does not influence the round's
    /// parameters: ``designDropoutRate`` does.
    public var dropoutRate: Double = 0.1
    /// The dropout rate the automatic (k, t) choice is designed to tolerate (SecAgg+ parameter finder). Separate from
    /// ``dropoutRate`` so that a round can be designed for one rate and subjected to another (measuring tolerance).
    public var designDropoutRate: Double = 0.1
    public var dropPhase: DropPhase = .random
    /// `.complete` or `.harary` (degree from `neighbors`).
    public var harary: Bool = true
    public var neighbors: Choice<Int> = .automatic
    public var threshold: Choice<Int> = .automatic
    public var mode: RoundMode = .honestButCurious
    /// Corrupt fraction assumed by the automatic parameter choice (`--corrupt`).
    public var corruptRate: Double = 0.05
    /// How the round is carried (`--transport`).
    public var transport: SimulationTransport = .inprocess
    /// Largest input entry; nil picks floor((2^bits − 1) / clients), the largest that cannot overflow.
    public var maximumInput: UInt64?
    public var seed: UInt64 = 1
    /// Client tasks run in parallel (1 disables parallelism).
    public var workers: Int = 2
    /// Differential privacy of the released sum: none, noise from the clients (distributed) or from the coordinator.
    public var privacy: PrivacyMode = .none
    /// Target ε of the release (calibrates σ), or nil to use `sigma`.
    public var epsilon: Double?
    /// δ of the (ε, δ) guarantee.
    public var delta: Double = 1e-6
    /// σ of the noise (per client for distributed noise, total for central), when `epsilon` is nil.
    public var sigma: Double?
    /// t_min, the fewest survivors whose sum the coordinator releases; nil for threshold + 1 (the least the protocol
    /// allows). Distributed noise is sized so that t_min survivors carry the whole σ: a larger t_min means less
    /// noise per client, and rounds with fewer survivors abort.
    public var minimumSurvivors: Int?
    /// How inputs become integer vectors: bounded integers as they are, or real vectors through the float encoder.
    public var encoder: EncoderKind = .integer
    /// For the float encoder: the L2 clipping norm of each client's real vector.
    public var clip: Double = 1

    public init() {}
}

/// The simulated clients' inputs.
public enum EncoderKind: String, Sendable, CaseIterable, Codable {
    /// Integers in 0...maximumInput.
    case integer = "int"
    /// Real vectors, clipped, rotated, scaled and rounded by ``FloatVectorEncoder``.
    case float
}

/// How the float encoder was set up for a round: the integer vector z of each client (|z_i| ≤ shift) is sent as
/// z + shift, so every lane lies in 0...2·shift; the coordinator's sum is decoded as Σ(z + shift) − survivors·shift.
public struct FloatEncoding: Sendable {
    public var encoder: FloatVectorEncoder
    public var shift: UInt64
    public var rotationSeed: [UInt8]
}

/// Where the simulated round's DP noise comes from.
public enum PrivacyMode: String, Sendable, CaseIterable, Codable {
    case none, distributed, central
}

/// Why a configuration cannot be simulated.
public struct SimulationConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The round parameters a configuration resolves to.
public struct ResolvedParameters: Sendable {
    public var graph: GraphShape
    /// Neighbours per client (n − 1 for a complete graph).
    public var neighbors: Int
    public var threshold: Int
    /// t_min: the fewest survivors whose sum is released (the round aborts below it); distributed noise is sized
    /// for it.
    public var minimumSurvivors: Int = 0
    public var maximumInput: UInt64
    /// The noise the round adds.
    public var noise: NoiseParameters = .none
    /// The privacy the noise buys (nil without noise).
    public var calibration: PrivacyCalibration?
    /// The float encoder's setup (nil for integer inputs).
    public var floatEncoding: FloatEncoding?
    /// Entries per vector on the wire (the encoder may pad to a power of two).
    public var laneCount: Int = 0
}

extension ResolvedParameters: Equatable {
    public static func == (lhs: ResolvedParameters, rhs: ResolvedParameters) -> Bool {
        lhs.graph == rhs.graph && lhs.neighbors == rhs.neighbors && lhs.threshold == rhs.threshold
            && lhs.minimumSurvivors == rhs.minimumSurvivors
            && lhs.maximumInput == rhs.maximumInput && lhs.noise == rhs.noise && lhs.calibration == rhs.calibration
            && lhs.laneCount == rhs.laneCount && lhs.floatEncoding?.shift == rhs.floatEncoding?.shift
    }
}

extension SimulationConfiguration {
    /// Checks the configuration and chooses the graph degree, threshold and input bound.
    ///
    /// - Throws: ``SimulationConfigurationError`` naming the option to change.
    public func resolve() throws(SimulationConfigurationError) -> ResolvedParameters {
        guard clients >= 3, clients <= WireLimits.maximumParticipants else {
            throw SimulationConfigurationError("--clients must be 3...\(WireLimits.maximumParticipants)")
        }
        guard dimension >= 1, dimension <= WireLimits.maximumDimension else {
            throw SimulationConfigurationError("--dimension must be 1...\(WireLimits.maximumDimension)")
        }
        guard (1...64).contains(bits) else { throw SimulationConfigurationError("--bits must be 1...64") }
        guard dropoutRate >= 0, dropoutRate < 1 else { throw SimulationConfigurationError("--dropout must be in [0, 1)") }
        guard designDropoutRate >= 0, designDropoutRate < 1 else {
            throw SimulationConfigurationError("--design-dropout must be in [0, 1)")
        }
        guard corruptRate >= 0, corruptRate < 1 else { throw SimulationConfigurationError("--corrupt must be in [0, 1)") }
        if dropPhase == .consistency, mode != .active {
            throw SimulationConfigurationError("--drop-phase consistency needs --mode active (only active rounds have that phase)")
        }
        let limit: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let fairMaximum = limit / UInt64(clients)
        // With noise, inputs default to 0...1 (counts, one-hot histograms): their L2 sensitivity is √dimension.
        let maximum = maximumInput ?? (privacy == .none ? fairMaximum : 1)
        guard maximum <= fairMaximum else {
            throw SimulationConfigurationError(
                "inputs up to \(maximum) from \(clients) clients may sum past 2^\(bits) - 1: "
                + "use --bits \(bitsNeeded(for: maximum)) or a maximum input of at most \(fairMaximum)")
        }
        guard maximum >= 1 else {
            throw SimulationConfigurationError("--bits \(bits) leaves no room for inputs from \(clients) clients; raise --bits")
        }

        var degree = clients - 1
        var chosenThreshold: Int
        let model: ThreatModel = mode == .active ? .active : .honestButCurious
        if harary {
            switch neighbors {
            case let .fixed(value):
                guard value >= 1 else { throw SimulationConfigurationError("--neighbors must be at least 1") }
                degree = min(value, clients - 1)
                chosenThreshold = mode == .active ? (degree + degree % 2) * 2 / 3 + 1 : degree / 2 + 1
            case .automatic:
                do {
                    let found = try ParameterFinder.find(
                        clientCount: clients, dropoutRate: max(designDropoutRate, 0.01), corruptRate: corruptRate,
                        model: model)
                    degree = min(found.degree, clients - 1)
                    chosenThreshold = found.threshold
                } catch {
                    throw SimulationConfigurationError("no SecAgg+ parameters for this configuration: \(error)")
                }
            }
        } else {
            chosenThreshold = mode == .active ? degree * 2 / 3 + 1 : degree / 2 + 1
        }
        if case let .fixed(value) = threshold { chosenThreshold = value }
        guard chosenThreshold >= 1, chosenThreshold <= degree else {
            throw SimulationConfigurationError("--threshold must be 1...\(degree) (the neighbour count)")
        }
        // One node of a Harary graph of odd degree on an odd number of nodes has an extra neighbour.
        let holders = harary && degree < clients - 1 ? min(degree + degree % 2, clients - 1) : degree
        if mode == .active, chosenThreshold * 2 <= holders {
            throw SimulationConfigurationError("active mode needs --threshold > \(holders / 2) (half the share holders)")
        }
        let graph: GraphShape = harary && degree < clients - 1 ? .harary(degree: UInt32(degree)) : .complete
        let survivorsFloor = minimumSurvivors ?? chosenThreshold + 1
        guard survivorsFloor > chosenThreshold, survivorsFloor <= clients else {
            throw SimulationConfigurationError(
                "--min-survivors must be \(chosenThreshold + 1)...\(clients) (above the threshold, at most --clients)")
        }
        var resolved = ResolvedParameters(graph: graph, neighbors: degree, threshold: chosenThreshold, maximumInput: maximum)
        resolved.minimumSurvivors = survivorsFloor
        resolved.laneCount = dimension
        if encoder == .float {
            guard privacy != .none else {
                throw SimulationConfigurationError("--encoder float is simulated with --dp distributed or --dp central")
            }
            try resolveFloatEncoding(into: &resolved)
        } else if privacy != .none {
            try resolvePrivacy(into: &resolved)
        }
        return resolved
    }

    /// Picks the finest granularity γ = clip·2^−k for which the shifted inputs plus the noise margin fit the modulus
    /// (``NoisySumModulus``, as round validation checks it).
    private func resolveFloatEncoding(into resolved: inout ResolvedParameters) throws(SimulationConfigurationError) {
        guard clip.isFinite, clip > 0 else { throw SimulationConfigurationError("--clip must be positive") }
        var seedSource = SeededRandom(seed: seed, stream: "rotation")
        let rotationSeed = seedSource.bytes(32)
        var lastProblem = "no granularity fits"
        for exponent in stride(from: 40, through: 0, by: -1) {
            let granularity = clip / Double(UInt64(1) << UInt64(exponent))
            guard let encoder = try? FloatVectorEncoder(
                dimension: dimension, clip: clip, granularity: granularity, bits: bits) else { continue }
            let shift = UInt64(encoder.squaredL2SensitivityBound.squareRoot().rounded(.down))
            var candidate = resolved
            candidate.maximumInput = 2 * shift
            candidate.laneCount = encoder.encodedDimension
            var sensitivityConfiguration = self
            sensitivityConfiguration.dimension = encoder.encodedDimension
            do {
                try sensitivityConfiguration.resolvePrivacy(
                    into: &candidate, l2Sensitivity: encoder.l2SensitivityBound)
            } catch {
                lastProblem = error.description
                continue
            }
            let sigmaTotal = candidate.calibration.map {
                privacy == .central ? $0.sigma : ($0.localSigma ?? $0.sigma) * Double(clients).squareRoot()
            } ?? 0
            // The protocol's bits rule (round validation refuses anything else).
            let signal = UInt64(clients).multipliedReportingOverflow(by: 2 * shift)
            guard !signal.overflow, NoisySumModulus.requiredBits(
                signalBound: signal.partialValue, noiseStandardDeviation: sigmaTotal) <= bits else {
                lastProblem = "\(bits) bits cannot carry \(clients) clients at granularity \(granularity)"
                continue
            }
            candidate.floatEncoding = FloatEncoding(encoder: encoder, shift: shift, rotationSeed: rotationSeed)
            resolved = candidate
            return
        }
        throw SimulationConfigurationError("the float encoder does not fit: \(lastProblem); raise --bits")
    }

    /// Calibrates the noise: Δ₂ = maximumInput·√dimension (the largest L2 norm of one input) unless given,
    /// t_min = the resolved minimum survivors (``minimumSurvivors``, threshold + 1 unless set).
    private func resolvePrivacy(
        into resolved: inout ResolvedParameters, l2Sensitivity: Double? = nil
    ) throws(SimulationConfigurationError) {
        let placement: NoisePlacement = privacy == .central ? .central : .distributed
        let parameters = PrivacyCalibration.Parameters(
            placement: placement,
            l2Sensitivity: l2Sensitivity ?? Double(resolved.maximumInput) * Double(dimension).squareRoot(),
            dimension: dimension, minimumSurvivors: resolved.minimumSurvivors, maximumSurvivors: clients, delta: delta)
        guard epsilon != nil || sigma != nil else {
            throw SimulationConfigurationError("--dp needs --epsilon or --sigma")
        }
        let calibration: PrivacyCalibration
        do throws(AccountingError) {
            calibration = try PrivacyCalibration.calibrate(epsilon: epsilon, orSigma: sigma, parameters: parameters)
        } catch {
            throw SimulationConfigurationError("cannot calibrate the noise: \(error)")
        }
        let noiseSigma = placement == .central ? calibration.sigma : (calibration.localSigma ?? calibration.sigma)
        let variance: Rational
        do throws(PrivacyError) {
            variance = try Rational.roundedUp(noiseSigma * noiseSigma)
        } catch {
            throw SimulationConfigurationError("noise variance \(noiseSigma * noiseSigma) is out of range: \(error)")
        }
        let fraction = NoiseVariance(numerator: variance.numerator, denominator: variance.denominator)
        resolved.noise = placement == .central ? .central(variance: fraction) : .distributed(localVariance: fraction)
        resolved.calibration = calibration
    }

    private func bitsNeeded(for maximum: UInt64) -> Int {
        let total = maximum.multipliedReportingOverflow(by: UInt64(clients))
        if total.overflow { return 65 }
        return max(1, 64 - total.partialValue.leadingZeroBitCount)
    }
}
