import Foundation
import SecAggProtocol
import SecAggSimulation

/// A `secagg simulate` option that an experiment file may vary, named exactly as on the command line (without the
/// dashes), and how its text sets a ``SimulationConfiguration``.
public enum SimulateParameter: String, Sendable, CaseIterable, CodingKey {
    case clients, dimension, bits, dropout
    case designDropout = "design-dropout"
    case dropPhase = "drop-phase"
    case graph, neighbors, threshold, mode
    case maxInput = "max-input"
    case dp, epsilon, delta, sigma
    case minSurvivors = "min-survivors"
    case encoder, clip, corrupt, transport

    /// Sets this parameter of `configuration` from `text` (a YAML scalar).
    ///
    /// - Throws: ``ParameterValueError`` saying what the value must be.
    public func apply(_ text: String, to configuration: inout SimulationConfiguration) throws(ParameterValueError) {
        switch self {
        case .clients: configuration.clients = try integer(text, atLeast: 3)
        case .dimension: configuration.dimension = try integer(text, atLeast: 1)
        case .bits: configuration.bits = try integer(text, atLeast: 1)
        case .dropout: configuration.dropoutRate = try rate(text)
        case .designDropout: configuration.designDropoutRate = try rate(text)
        case .dropPhase: configuration.dropPhase = try choice(text, DropPhase.self)
        case .graph:
            switch text {
            case "complete": configuration.harary = false
            case "harary": configuration.harary = true
            default: throw ParameterValueError("complete or harary")
            }
        case .neighbors: configuration.neighbors = try automaticOrCount(text)
        case .threshold: configuration.threshold = try automaticOrCount(text)
        case .mode:
            switch text {
            case "honest": configuration.mode = .honestButCurious
            case "active": configuration.mode = .active
            default: throw ParameterValueError("honest or active")
            }
        case .maxInput:
            guard let value = UInt64(text), value >= 1 else { throw ParameterValueError("a whole number >= 1") }
            configuration.maximumInput = value
        case .dp: configuration.privacy = try choice(text, PrivacyMode.self)
        case .epsilon: configuration.epsilon = try positive(text)
        case .delta:
            let value = try positive(text)
            guard value < 1 else { throw ParameterValueError("a number in (0, 1)") }
            configuration.delta = value
        case .sigma: configuration.sigma = try positive(text)
        case .minSurvivors: configuration.minimumSurvivors = try integer(text, atLeast: 2)
        case .encoder: configuration.encoder = try choice(text, EncoderKind.self)
        case .clip: configuration.clip = try positive(text)
        case .corrupt: configuration.corruptRate = try rate(text)
        case .transport: configuration.transport = try choice(text, SimulationTransport.self)
        }
    }

    private func integer(_ text: String, atLeast minimum: Int) throws(ParameterValueError) -> Int {
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")), value >= minimum else {
            throw ParameterValueError("a whole number >= \(minimum)")
        }
        return value
    }

    private func rate(_ text: String) throws(ParameterValueError) -> Double {
        guard let value = Double(text), value >= 0, value < 1 else { throw ParameterValueError("a fraction in [0, 1)") }
        return value
    }

    private func positive(_ text: String) throws(ParameterValueError) -> Double {
        guard let value = Double(text), value.isFinite, value > 0 else { throw ParameterValueError("a number > 0") }
        return value
    }

    private func automaticOrCount(_ text: String) throws(ParameterValueError) -> Choice<Int> {
        if text == "auto" { return .automatic }
        guard let value = Int(text), value >= 1 else { throw ParameterValueError("auto or a whole number >= 1") }
        return .fixed(value)
    }

    private func choice<T: RawRepresentable & CaseIterable>(_ text: String, _: T.Type) throws(ParameterValueError) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw ParameterValueError(T.allCases.map(\.rawValue).joined(separator: ", ").replacingLastComma())
        }
        return value
    }
}

/// Why a value cannot be given to a ``SimulateParameter``: what it must be instead.
public struct ParameterValueError: Error, Sendable, Equatable {
    /// The accepted values, e.g. "a fraction in [0, 1)".
    public var expected: String

    public init(_ expected: String) { self.expected = expected }
}

extension String {
    /// "a, b, c" → "a, b or c".
    fileprivate func replacingLastComma() -> String {
        guard let range = range(of: ", ", options: .backwards) else { return self }
        return replacingCharacters(in: range, with: " or ")
    }
}

extension SimulationConfiguration {
    /// The `secagg simulate` arguments that run exactly this configuration (every option spelt out, in a fixed
    /// order, so that equal configurations give equal text: sweeps use it as the run's identity when resuming).
    /// The worker count is left out: it changes how fast a run goes, not what it computes. `--corrupt` and
    /// `--transport` appear only when they differ from their defaults (0.05, inprocess), so rows written before
    /// they existed keep their identity.
    public var simulateArguments: [String] {
        func number(_ value: Double) -> String { "\(value)" }
        func choice(_ value: Choice<Int>) -> String {
            if case let .fixed(count) = value { return "\(count)" }
            return "auto"
        }
        var arguments = [
            "--clients", "\(clients)", "--dimension", "\(dimension)", "--bits", "\(bits)",
            "--dropout", number(dropoutRate), "--design-dropout", number(designDropoutRate),
            "--drop-phase", dropPhase.rawValue, "--graph", harary ? "harary" : "complete",
            "--neighbors", choice(neighbors), "--threshold", choice(threshold),
            "--mode", mode == .active ? "active" : "honest",
        ]
        if corruptRate != SimulationConfiguration().corruptRate { arguments += ["--corrupt", number(corruptRate)] }
        if let maximumInput { arguments += ["--max-input", "\(maximumInput)"] }
        if privacy != .none {
            arguments += ["--dp", privacy.rawValue]
            if let epsilon { arguments += ["--epsilon", number(epsilon)] }
            if let sigma { arguments += ["--sigma", number(sigma)] }
            arguments += ["--delta", number(delta)]
        }
        if let minimumSurvivors { arguments += ["--min-survivors", "\(minimumSurvivors)"] }
        arguments += ["--encoder", encoder.rawValue]
        if encoder == .float { arguments += ["--clip", number(clip)] }
        arguments += ["--seed", "\(seed)"]
        if transport != .inprocess { arguments += ["--transport", transport.rawValue] }
        return arguments
    }

    /// ``simulateArguments`` as one shell command line: `secagg simulate --clients 100 ...` (no argument needs quoting).
    public var simulateCommandLine: String {
        (["secagg", "simulate"] + simulateArguments).joined(separator: " ")
    }
}
