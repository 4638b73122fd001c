import SecAggMath
import SecAggPrivacy
import SecAggProtocol
import SecAggWire

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
    /// Fraction of clients that drop out (floor(rate · clients) of them).
    public var dropoutRate: Double = 0.1
    public var dropPhase: DropPhase = .random
    /// `.complete` or `.harary` (degree from `neighbors`).
    public var harary: Bool = true
    public var neighbors: Choice<Int> = .automatic
    public var threshold: Choice<Int> = .automatic
    public var mode: RoundMode = .honestButCurious
    /// Corrupt fraction assumed by the automatic parameter choice.
    public var corruptRate: Double = 0.05
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

    public init() {}
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
public struct ResolvedParameters: Sendable, Equatable {
    public var graph: GraphShape
    /// Neighbours per client (n − 1 for a complete graph).
    public var neighbors: Int
    public var threshold: Int
    public var maximumInput: UInt64
    /// The noise the round adds.
    public var noise: NoiseParameters = .none
    /// The privacy the noise buys (nil without noise).
    public var calibration: PrivacyCalibration?
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
                        clientCount: clients, dropoutRate: max(dropoutRate, 0.01), corruptRate: corruptRate, model: model)
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
        var resolved = ResolvedParameters(graph: graph, neighbors: degree, threshold: chosenThreshold, maximumInput: maximum)
        if privacy != .none {
            try resolvePrivacy(into: &resolved)
        }
        return resolved
    }

    /// Calibrates the noise: Δ₂ = maximumInput·√dimension (the largest L2 norm of one input), t_min = threshold + 1.
    private func resolvePrivacy(into resolved: inout ResolvedParameters) throws(SimulationConfigurationError) {
        let placement: NoisePlacement = privacy == .central ? .central : .distributed
        let parameters = PrivacyCalibration.Parameters(
            placement: placement, l2Sensitivity: Double(resolved.maximumInput) * Double(dimension).squareRoot(),
            dimension: dimension, minimumSurvivors: resolved.threshold + 1, maximumSurvivors: clients, delta: delta)
        guard epsilon != nil || sigma != nil else {
            throw SimulationConfigurationError("--dp needs --epsilon or --sigma")
        }
        let calibration: PrivacyCalibration
        do throws(AccountingError) {
            if let epsilon {
                calibration = try PrivacyCalibration.calibrate(epsilon: epsilon, parameters: parameters)
            } else {
                let sigma = self.sigma ?? 0
                calibration = placement == .central
                    ? try PrivacyCalibration.evaluate(sigma: sigma, parameters: parameters)
                    : try PrivacyCalibration.evaluate(localSigma: sigma, parameters: parameters)
            }
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
