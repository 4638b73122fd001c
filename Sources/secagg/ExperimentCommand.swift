import ArgumentParser
import Foundation
import SecAggExperiment

/// `secagg experiment FILE.yaml`: run the grid of simulations an experiment file describes.
struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a sweep of simulated rounds from an experiment file, one row per run to CSV and JSON Lines.",
        discussion: """
            The file is YAML: name, seeds (or repetitions), workers, and parameters: simulate options without the \
            dashes, each a value or a list (the grid is every combination); grids: optionally several grids over \
            the same parameters. Unknown keys and bad values are errors with their line, before anything runs. \
            Each run's row is written as soon as it finishes, with the exact `secagg simulate` command that \
            repeats it and the secagg version; --resume skips the runs already in the output. See README "Gallery".
            """)

    @Argument(help: "The experiment file (YAML).") var file: String
    @Option(help: "Output path without extension: writes OUT.csv and OUT.jsonl (default: the file's name in the current folder).")
    var out: String?
    @Flag(help: "Keep the rows already in the output and run only the missing runs.") var resume = false
    @Flag(help: "Replace existing output files.") var overwrite = false
    @Option(name: .customLong("max-runs"), help: "Stop after this many runs (continue later with --resume).")
    var maximumRuns: Int?
    @Flag(name: .customLong("dry-run"), help: "Check the file and list the runs' simulate commands without running them.")
    var dryRun = false
    @Option(help: "Parallel client workers per run (default: the file's workers, else the number of cores).")
    var workers: Int?

    func run() async throws {
        let url = URL(fileURLWithPath: file)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw CommandFailure("cannot read \(file): \(error.localizedDescription)")
        }
        let baseName = url.deletingPathExtension().lastPathComponent
        let experiment: Experiment
        do throws(ExperimentFileError) {
            experiment = try Experiment(yaml: text, defaultName: baseName)
        } catch {
            throw CommandFailure("\(file):\n" + error.problems.map { "  \($0)" }.joined(separator: "\n"))
        }
        if dryRun {
            for run in experiment.runs { print(run.key) }
            return
        }
        if resume, overwrite { throw ValidationError("give --resume or --overwrite, not both") }
        let stem = out ?? baseName
        let files: ResultFiles
        do {
            files = try ResultFiles(
                csvURL: URL(fileURLWithPath: stem + ".csv"), jsonLinesURL: URL(fileURLWithPath: stem + ".jsonl"),
                resume: resume, overwrite: overwrite)
        } catch let error as ResultFilesError {
            throw CommandFailure(error.description)
        }
        reportProgress("experiment \(experiment.name): \(experiment.runs.count) runs -> \(stem).csv, \(stem).jsonl")
        let sweep = Sweep(
            experiment: experiment,
            workers: workers ?? experiment.workers ?? ProcessInfo.processInfo.activeProcessorCount,
            runLimit: maximumRuns, runner: LoopbackSimulation.run(configuration:), progress: { reportProgress($0) })
        let summary = try await sweep.run(into: files)
        var line = "experiment \(experiment.name): \(summary.completed) runs done (\(summary.failed) failed)"
        if summary.skipped > 0 { line += ", \(summary.skipped) already in the output" }
        if summary.remaining > 0 { line += ", \(summary.remaining) left: rerun with --resume" }
        print(line)
    }
}
