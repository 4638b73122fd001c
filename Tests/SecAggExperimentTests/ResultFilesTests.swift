import Foundation
import Testing

@testable import SecAggExperiment
import SecAggSimulation
import SecAggWire

@Suite("Result files and resume")
struct ResultFilesTests {
    /// A fresh pair of result file names (CSV, JSON Lines) in the temporary directory.
    private func temporaryFiles() -> (csv: URL, jsonLines: URL) {
        let stem = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-results-\(UUID().uuidString)")
        return (stem.appendingPathExtension("csv"), stem.appendingPathExtension("jsonl"))
    }

    private func removeFiles(_ urls: URL...) {
        for url in urls { try? FileManager.default.removeItem(at: url) }
    }

    private func experiment() throws -> Experiment {
        try Experiment(yaml: """
            name: resume
            seeds: [1, 2]
            parameters: {clients: [5, 6], dimension: 4, graph: complete, dropout: 0}
            """)
    }

    private func lines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func csvQuotesWhatNeedsItAndReadsItBack() {
        let line = CSV.line(["plain", "a,b", "say \"hi\"", "two\nlines", ""])
        #expect(line == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n")
        #expect(CSV.records(line) == [["plain", "a,b", "say \"hi\"", "two\nlines", ""]])
        // A last line without its line break was cut short: it is not a record.
        #expect(CSV.records("a,b\nc,d") == [["a", "b"]])
    }

    @Test func theInMemoryRunnerRefusesTCPRunsAndWritesNothing() async throws {
        let (csv, jsonLines) = temporaryFiles()
        defer { removeFiles(csv, jsonLines) }
        let experiment = try Experiment(yaml: "parameters: {clients: 5, dimension: 4, graph: complete, transport: tcp}")
        let files = try ResultFiles(csvURL: csv, jsonLinesURL: jsonLines, resume: false)
        await #expect(throws: ResultFilesError.self) { try await Sweep(experiment: experiment, workers: 1).run(into: files) }
        #expect(try lines(csv).count <= 1)
        // An injected runner is what runs each configuration, and the row records what its report says ran.
        var calls = 0
        let injected = Sweep(experiment: experiment, workers: 1, runner: { configuration in
            calls += 1
            var copy = configuration
            copy.transport = .inprocess
            return try await Sweep.inProcess(copy)
        })
        let summary = try await injected.run(into: files)
        #expect(summary.completed == 1 && calls == 1)
        let rows = try ResultFiles.readRows(csvURL: csv)
        #expect(rows.count == 1 && rows[0]["transport"] == .text("inprocess") && rows[0]["corrupt"] == .text("0.05"))
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONText.quoted("a\"b\\c\nd\u{1}") == "\"a\\\"b\\\\c\\nd\\u0001\"")
    }

    @Test func aPartialSweepResumesWithoutDuplicates() async throws {
        let (csv, jsonLines) = temporaryFiles()
        defer { removeFiles(csv, jsonLines) }
        let experiment = try experiment()
        #expect(experiment.runs.count == 4)

        // First attempt stops after two runs (as if killed).
        var files: ResultFiles? = try ResultFiles(csvURL: csv, jsonLinesURL: jsonLines, resume: false)
        let first = try await Sweep(experiment: experiment, workers: 1, runLimit: 2).run(into: files!)
        files = nil
        #expect(first == Sweep.Summary(completed: 2, failed: 0, skipped: 0, remaining: 2))
        #expect(try lines(csv).count == 3)
        #expect(try lines(jsonLines).count == 2)

        // Without --resume or --overwrite the results are not clobbered.
        #expect(throws: ResultFilesError.self) { try ResultFiles(csvURL: csv, jsonLinesURL: jsonLines, resume: false) }

        // A kill between the JSON Lines write and the CSV write leaves a row in one file only, cut short.
        let handle = try FileHandle(forWritingTo: jsonLines)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"experiment\":\"resume\",\"comm".utf8))
        try handle.close()

        files = try ResultFiles(csvURL: csv, jsonLinesURL: jsonLines, resume: true)
        #expect(files!.finishedKeys == Set(experiment.runs.prefix(2).map(\.key)))
        let second = try await Sweep(experiment: experiment, workers: 1).run(into: files!)
        files = nil
        #expect(second == Sweep.Summary(completed: 2, failed: 0, skipped: 2, remaining: 0))

        let rows = try ResultFiles.readRows(csvURL: csv)
        #expect(rows.map { $0["command"].csvText } == experiment.runs.map(\.key))
        #expect(rows.allSatisfy { $0["success"].csvText == "true" })
        let jsonKeys = try lines(jsonLines).map { line -> String in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["command"] as? String ?? ""
        }
        #expect(jsonKeys == experiment.runs.map(\.key))

        // Everything done: a third --resume runs nothing.
        files = try ResultFiles(csvURL: csv, jsonLinesURL: jsonLines, resume: true)
        let third = try await Sweep(experiment: experiment, workers: 1).run(into: files!)
        #expect(third == Sweep.Summary(completed: 0, failed: 0, skipped: 4, remaining: 0))
        #expect(try lines(csv).count == 5)
    }

    @Test func rowsRecordParametersOutcomeCostsAndNoise() async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 12
        configuration.dimension = 50
        configuration.harary = false
        configuration.privacy = .distributed
        configuration.epsilon = 1
        configuration.minimumSurvivors = 8
        configuration.dropoutRate = 0.25
        configuration.dropPhase = .share
        configuration.workers = 1
        let run = ExperimentRun(configuration: configuration)
        let report = await (try RoundSimulator(configuration: configuration)).run()
        let row = ResultRow(experiment: "noise", run: run, report: report)
        #expect(row.values.count == ResultRow.columns.count)
        #expect(row["command"] == .text(configuration.simulateCommandLine))
        #expect(row["version"] == .text("\(SecAggVersion.release)"))
        #expect(row["t_min"] == .integer(8))
        #expect(row["survivors"] == .integer(9))
        #expect(row["success"] == .flag(true))
        guard case let .number(perClient) = row["noise_sigma_per_client"], case let .number(total) = row["noise_sigma_total"],
              case let .number(rmse) = row["rmse"], case let .number(mean) = row["bytes_up_mean"],
              case let .integer(maximum) = row["bytes_up_max"] else {
            Issue.record("missing measurements: \(row.values)")
            return
        }
        // σ per client is sized so that t_min = 8 survivors carry the total σ.
        #expect(abs(perClient * 8.0.squareRoot() - total) < 1e-9 * total)
        #expect(rmse > 0 && Double(maximum) >= mean)
        #expect(row["seconds_share"] != .missing)
        // The JSON line is one object whose keys are the columns.
        let object = try JSONSerialization.jsonObject(with: Data(row.jsonLine.utf8)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == Set(ResultRow.columns))
        #expect(row.csvLine.hasSuffix("\n") && CSV.records(row.csvLine)[0].count == ResultRow.columns.count)
    }
}
