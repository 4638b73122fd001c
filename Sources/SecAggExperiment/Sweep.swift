import Foundation
import SecAggSimulation

/// Runs an experiment's runs one after another, with the simulator `secagg simulate` uses, appending each run's row
/// to the result files as soon as it ends and reporting progress with an estimate of the time left.
public struct Sweep {
    /// Runs one configuration: what `secagg simulate` does with it. Injected so that the CLI, which owns the network
    /// stack, can carry `transport: tcp` runs over loopback TCP.
    public typealias Runner = (SimulationConfiguration) async throws -> SimulationReport

    public var experiment: Experiment
    /// Client workers per run.
    public var workers: Int
    /// Stop after this many runs (the rest stay for a later `--resume`); nil for all.
    public var runLimit: Int?
    /// Receives one line per run (and per skipped block) for standard error.
    public var progress: (String) -> Void
    /// Runs each configuration (``inProcess`` by default).
    public var runner: Runner

    public init(
        experiment: Experiment, workers: Int, runLimit: Int? = nil, runner: @escaping Runner = Sweep.inProcess,
        progress: @escaping (String) -> Void = { _ in }
    ) {
        self.experiment = experiment
        self.workers = workers
        self.runLimit = runLimit
        self.runner = runner
        self.progress = progress
    }

    /// The in-memory simulator. It refuses a `transport: tcp` configuration (a row must never claim a transport
    /// its run did not use).
    ///
    /// - Throws: ``ResultFilesError`` for a `.tcp` configuration or one the simulator refuses.
    public static func inProcess(_ configuration: SimulationConfiguration) async throws -> SimulationReport {
        guard configuration.transport == .inprocess else {
            throw ResultFilesError("transport \(configuration.transport.rawValue) needs the secagg command (secagg experiment)")
        }
        do throws(SimulationConfigurationError) {
            return try await RoundSimulator(configuration: configuration).run()
        } catch {
            throw ResultFilesError(error.description)
        }
    }

    /// What a sweep did.
    public struct Summary: Sendable, Equatable {
        /// Runs done now.
        public var completed: Int
        /// Runs among those that ended without releasing a correct sum (aborted, or wrong).
        public var failed: Int
        /// Runs skipped because the result files already held them.
        public var skipped: Int
        /// Runs left for a later `--resume` (``runLimit``).
        public var remaining: Int
    }

    /// Runs every run whose key is not yet in `files`.
    ///
    /// - Throws: I/O errors writing the rows (the rows written so far stay).
    public func run(into files: ResultFiles) async throws -> Summary {
        let pending = experiment.runs.filter { !files.finishedKeys.contains($0.key) }
        let skipped = experiment.runs.count - pending.count
        if skipped > 0 { progress("\(skipped) of \(experiment.runs.count) runs already in \(files.csvURL.path): skipped") }
        let chosen = runLimit.map { Array(pending.prefix(max(0, $0))) } ?? pending
        var summary = Summary(completed: 0, failed: 0, skipped: skipped, remaining: pending.count - chosen.count)
        let clock = ContinuousClock()
        let start = clock.now
        for (index, run) in chosen.enumerated() {
            var configuration = run.configuration
            configuration.workers = workers
            let report: SimulationReport
            do {
                report = try await runner(configuration)
            } catch {
                // The experiment checked every run before starting; a refusal here is a bug or a broken machine (a
                // loopback listener that cannot bind), not a result: stop, keeping the rows written so far.
                throw ResultFilesError("\(run.key): \(error)")
            }
            let row = ResultRow(experiment: experiment.name, run: run, report: report)
            try files.append(row)
            summary.completed += 1
            let success = row["success"] == .flag(true)
            if !success { summary.failed += 1 }
            let elapsed = Self.seconds(clock.now - start)
            let left = elapsed / Double(index + 1) * Double(chosen.count - index - 1)
            let outcome = success ? "ok" : "FAILED (\(report.abortReason?.description ?? "wrong sum"))"
            progress(String(
                format: "[%d/%d] %@: %@, %.2f s; elapsed %@, ETA %@", skipped + index + 1, experiment.runs.count,
                run.key.replacingOccurrences(of: "secagg simulate ", with: ""), outcome, report.wallSeconds,
                Self.duration(elapsed), Self.duration(left)))
        }
        return summary
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }

    /// "42 s", "3 min 05 s", "1 h 02 min".
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
        return String(format: "%d h %02d min", total / 3600, total % 3600 / 60)
    }
}
