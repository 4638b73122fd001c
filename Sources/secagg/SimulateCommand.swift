import ArgumentParser
import Foundation
import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// `secagg simulate`: one round in-process with the real state machines.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run one secure-aggregation round in-process and check the released sum.",
        discussion: """
            Runs the real client and coordinator state machines, every message through the canonical encoding, \
            clients in parallel. Exits non-zero if the round aborts or the sum is wrong.
            """
    )

    @Option(help: "Number of clients.") var clients: Int = 100
    @Option(help: "Entries per input vector.") var dimension: Int = 10_000
    @Option(help: "Arithmetic modulo 2^bits (1...64).") var bits: Int = 32
    @Option(help: "Fraction of clients that actually drop out (injected; does not change k or t).")
    var dropout: Double = 0.1
    @Option(name: .customLong("design-dropout"),
            help: "Dropout rate the automatic (k, t) choice is designed to tolerate (independent of --dropout).")
    var designDropout: Double = 0.1
    @Option(name: .customLong("drop-phase"), help: "Where clients drop: advertise|share|masked|consistency|unmask|random.")
    var dropPhase: DropPhase = .random
    @Option(help: "Neighbour graph: complete|harary.") var graph: GraphOption = .harary
    @Option(help: "Neighbours per client (Harary degree) or auto.") var neighbors: String = "auto"
    @Option(help: "Shamir threshold or auto.") var threshold: String = "auto"
    @Option(help: "Threat model: honest|active.") var mode: ModeOption = .honest
    @Option(help: "Fraction of clients the automatic (k, t) choice assumes corrupt (colluding with the coordinator).")
    var corrupt: Double = 0.05
    @Option(name: .customLong("max-input"), help: "Largest input entry (default: the largest that cannot overflow).")
    var maximumInput: UInt64?
    @Option(help: "Seed for identities, inputs, dropouts and keys (simulation only).") var seed: UInt64 = 1
    @Option(help: "Parallel client workers (default: the number of cores).") var workers: Int?
    @Option(help: "Differential privacy: none, distributed (clients add noise) or central (the coordinator does).")
    var dp: PrivacyMode = .none
    @Option(help: "Target ε of the release (calibrates σ).") var epsilon: Double?
    @Option(help: "δ of the (ε, δ) guarantee.") var delta: Double = 1e-6
    @Option(help: "σ of the noise instead of --epsilon (per client for distributed noise).") var sigma: Double?
    @Option(name: .customLong("min-survivors"),
            help: "t_min: fewest survivors whose sum is released; distributed noise is sized for it (default threshold + 1).")
    var minimumSurvivors: Int?
    @Option(help: "Inputs: int (integers in 0...max-input) or float (real vectors, clipped and encoded; needs --dp).")
    var encoder: EncoderKind = .integer
    @Option(help: "L2 clipping norm of each real vector (float encoder).") var clip: Double = 1
    @Option(help: "inprocess (state machines only) or tcp (coordinator service and clients over loopback TCP with Noise).")
    var transport: SimulationTransport = .inprocess
    @Flag(help: "Print one JSON object instead of the summary.") var json = false
    @Flag(help: "Report progress on stderr (the default for rounds of 10^7 entries or more without --json).")
    var progress = false

    enum GraphOption: String, ExpressibleByArgument { case complete, harary }
    enum ModeOption: String, ExpressibleByArgument { case honest, active }

    func run() async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = clients
        configuration.dimension = dimension
        configuration.bits = bits
        configuration.dropoutRate = dropout
        configuration.designDropoutRate = designDropout
        configuration.minimumSurvivors = minimumSurvivors
        configuration.dropPhase = dropPhase
        configuration.harary = graph == .harary
        configuration.neighbors = try choice(neighbors, option: "--neighbors")
        configuration.threshold = try choice(threshold, option: "--threshold")
        configuration.mode = mode == .active ? .active : .honestButCurious
        configuration.corruptRate = corrupt
        configuration.transport = transport
        configuration.maximumInput = maximumInput
        configuration.seed = seed
        configuration.workers = workers ?? ProcessInfo.processInfo.activeProcessorCount
        configuration.privacy = dp
        configuration.epsilon = epsilon
        configuration.delta = delta
        configuration.sigma = sigma
        configuration.encoder = encoder
        configuration.clip = clip
        if dp == .none, epsilon != nil || sigma != nil {
            throw ValidationError("--epsilon and --sigma need --dp distributed or --dp central")
        }

        let verbose = progress || (clients * dimension >= 10_000_000 && !json)
        let reporter: (@Sendable (String) -> Void)? = verbose ? reportProgress : nil
        let simulator: RoundSimulator
        do throws(SimulationConfigurationError) {
            simulator = try RoundSimulator(configuration: configuration, progress: reporter)
        } catch {
            throw ValidationError(error.description)
        }
        let report = try await LoopbackSimulation.run(simulator)
        if json {
            var output = SimulationOutput(report)
            output.peakResidentMebibytes = peakResidentMebibytes()
            print(output.jsonString)
        } else {
            print(SimulationOutput(report).summary)
        }
        if !report.verified {
            throw ExitCode(1)
        }
    }

    private func choice(_ text: String, option: String) throws -> Choice<Int> {
        if text == "auto" { return .automatic }
        guard let value = Int(text), value > 0 else { throw ValidationError("\(option) takes a positive number or auto") }
        return .fixed(value)
    }
}

extension DropPhase: ExpressibleByArgument {}
extension SimulationTransport: ExpressibleByArgument {}
extension PrivacyMode: ExpressibleByArgument {}
extension EncoderKind: ExpressibleByArgument {}

/// The report in the two forms the CLI prints.
struct SimulationOutput {
    let report: SimulationReport
    /// Peak RSS of the process, when measured.
    var peakResidentMebibytes: Double?

    init(_ report: SimulationReport) { self.report = report }

    var summary: String {
        let configuration = report.configuration
        let parameters = report.parameters
        var lines: [String] = []
        let graph: String
        switch parameters.graph {
        case .complete: graph = "complete graph"
        case let .harary(degree): graph = "Harary graph, degree \(degree)"
        }
        lines.append("secagg simulate: \(configuration.clients) clients × \(configuration.dimension) entries mod 2^\(configuration.bits), "
                     + "\(graph), threshold \(parameters.threshold), \(configuration.mode == .active ? "active" : "honest-but-curious") mode, "
                     + "seed \(configuration.seed)")
        lines.append("dropout: \(Int((configuration.dropoutRate * Double(configuration.clients)).rounded(.down))) clients at "
                     + "\(configuration.dropPhase.rawValue) (injected \(configuration.dropoutRate); "
                     + "(k, t) designed for \(configuration.designDropoutRate))")
        lines.append("t_min: \(parameters.minimumSurvivors) (fewest survivors whose sum is released)")
        lines.append("")
        lines.append("phase          seconds   survivors  dropped")
        for (phase, seconds) in report.phaseSeconds {
            let survivors = report.survivorsPerPhase.first { $0.phase == phase }.map { "\($0.count)" } ?? "-"
            let dropped = report.droppedPerPhase[phase] ?? 0
            lines.append(pad("\(phase)", 13) + pad(String(format: "%8.3f", seconds), 10, left: true)
                         + pad(survivors, 12, left: true) + pad("\(dropped)", 9, left: true))
        }
        lines.append("")
        lines.append(String(format: "wall time: %.3f s", report.wallSeconds))
        if let upMax = report.bytesUpMax, let downMax = report.bytesDownMax {
            lines.append(String(
                format: "bytes per client (%@): %.0f up (max %d), %.0f down (max %d)", report.bytesScope,
                report.bytesUpPerClient, upMax, report.bytesDownPerClient, downMax))
        } else {
            lines.append(String(
                format: "bytes per client (%@, mean): %.0f up, %.0f down", report.bytesScope,
                report.bytesUpPerClient, report.bytesDownPerClient))
        }
        if let privacy = report.privacy {
            let noise = report.configuration.privacy == .central ? "central" : "distributed"
            let local = privacy.localSigma.map { String(format: ", σ per client %.3f", $0) } ?? ""
            let charge = privacy.penalty == 0
                ? String(format: "ρ = %.4g zCDP", privacy.rho)
                : String(format: "ρ = %.4g, η = %.3g", privacy.rho, privacy.penalty)
            lines.append(String(format: "privacy (%@ noise): ε = %.4g, δ = %.3g, charged by %@: %@; σ = %.3f%@",
                                 noise, privacy.epsilon, privacy.delta, privacy.accountant.label, charge, privacy.sigma,
                                 local))
            if let statement = privacy.statement {
                lines.append("  \(statement.relation)")
                lines.append("  \(statement.assumption)")
            }
            if let perClient = privacy.localSigma {
                lines.append(String(
                    format: "noise per client: σ %.4g, sized so that t_min = %d survivors carry σ %.4g; %d survivors carry σ %.4g",
                    perClient, parameters.minimumSurvivors, privacy.sigma, report.survivors,
                    perClient * Double(report.survivors).squareRoot()))
            }
            let units = report.parameters.floatEncoding.map {
                String(format: " in real units (clip %g, granularity %g)", report.configuration.clip, $0.encoder.granularity)
            } ?? ""
            lines.append(String(format: "error of the release%@: RMSE %.4g (predicted %.4g), max %.4g",
                                 units, privacy.rmse, privacy.predictedRMSE, privacy.maximumError))
        }
        if let reason = report.abortReason {
            lines.append("ABORTED: \(reason)")
        } else if report.privacy != nil, report.verified {
            lines.append("noisy sum of \(report.survivors) survivors' inputs released: error consistent with the noise")
        } else if report.privacy != nil {
            lines.append("noisy sum of \(report.survivors) survivors' inputs: ERROR far beyond the noise")
        } else if report.verified {
            lines.append("sum of \(report.survivors) survivors' inputs: VERIFIED (equals the plain sum)")
        } else {
            lines.append("sum of \(report.survivors) survivors' inputs: WRONG (differs from the plain sum)")
        }
        return lines.joined(separator: "\n")
    }

    var jsonObject: [String: Any] {
        let configuration = report.configuration
        var phases: [String: Double] = [:]
        for (phase, seconds) in report.phaseSeconds { phases["\(phase)"] = seconds }
        var survivorsPerPhase: [String: Int] = [:]
        for (phase, count) in report.survivorsPerPhase { survivorsPerPhase["\(phase)"] = count }
        var dropped: [String: Int] = [:]
        for (phase, count) in report.droppedPerPhase { dropped["\(phase)"] = count }
        var object: [String: Any] = [
            "verified": report.verified,
            "clients": configuration.clients,
            "dimension": configuration.dimension,
            "bits": configuration.bits,
            "dropout": configuration.dropoutRate,
            "design_dropout": configuration.designDropoutRate,
            "min_survivors": report.parameters.minimumSurvivors,
            "drop_phase": configuration.dropPhase.rawValue,
            "graph": report.parameters.graph == .complete ? "complete" : "harary",
            "mode": configuration.mode == .active ? "active" : "honest",
            "seed": configuration.seed,
            "survivors": report.survivors,
            "survivors_per_phase": survivorsPerPhase,
            "dropped_per_phase": dropped,
            "neighbors": report.parameters.neighbors,
            "threshold": report.parameters.threshold,
            "wall_seconds": report.wallSeconds,
            "setup_seconds": report.setupSeconds,
            "phases": phases,
            "bytes_per_client": bytesPerClient(report),
        ]
        if let peak = peakResidentMebibytes { object["peak_rss_mib"] = peak }
        if let privacy = report.privacy {
            object["dp"] = configuration.privacy.rawValue
            object["epsilon"] = privacy.epsilon
            object["delta"] = privacy.delta
            object["rho"] = privacy.rho
            object["penalty"] = privacy.penalty
            object["accountant"] = privacy.accountant.rawValue
            object["sigma"] = privacy.sigma
            if let local = privacy.localSigma { object["sigma_per_client"] = local }
            object["rmse"] = privacy.rmse
            object["max_error"] = privacy.maximumError
            object["predicted_rmse"] = privacy.predictedRMSE
            if let statement = privacy.statement {
                for (key, value) in statement.fields { object[key] = value }
                object["privacy_assumption"] = statement.assumption
            }
        }
        object["encoder"] = configuration.encoder.rawValue
        if let encoding = report.parameters.floatEncoding {
            object["clip"] = configuration.clip
            object["granularity"] = encoding.encoder.granularity
            object["lanes"] = encoding.encoder.encodedDimension
        }
        if let reason = report.abortReason {
            object["abort_reason"] = reason.description
            object["abort_code"] = Int(reason.code.rawValue)
        }
        return object
    }

    /// `bytes_per_client`: means (and maxima, when counted per client) over the clients named by `over`.
    private func bytesPerClient(_ report: SimulationReport) -> [String: Any] {
        var object: [String: Any] = [
            "up": report.bytesUpPerClient, "down": report.bytesDownPerClient, "over": report.bytesScope,
        ]
        if let upMax = report.bytesUpMax { object["up_max"] = upMax }
        if let downMax = report.bytesDownMax { object["down_max"] = downMax }
        return object
    }

    var jsonString: String {
        guard let data = try? JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Writes one progress line to standard error.
@Sendable func reportProgress(_ line: String) {
    FileHandle.standardError.write(Data("secagg: \(line)\n".utf8))
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return left ? padding + text : text + padding
}
