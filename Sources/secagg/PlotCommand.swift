import ArgumentParser
import Foundation
import SecAggExperiment

extension ResultFigure: ExpressibleByArgument {}

/// `secagg plot RESULTS.csv --figure NAME --out FIG.svg`: a standard figure from a sweep's results.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a figure (SVG) from the CSV a `secagg experiment` sweep wrote.",
        discussion: """
            scaling: wall time and bytes per surviving client vs N, log axes, SecAgg (complete graph) vs SecAgg+ \
            (Harary); writes OUT (time) and OUT with -bytes before the extension. phases: stacked bars of the time \
            of each protocol phase. dropout: fraction of runs releasing the sum vs the injected dropout rate, per \
            drop phase. dp-error: measured RMSE vs ε (points) and the predicted RMSE (dashed line).
            """)

    @Argument(help: "A results CSV written by `secagg experiment`.") var results: String
    @Option(help: "scaling, phases, dropout or dp-error.") var figure: ResultFigure
    @Option(help: "The SVG file to write.") var out: String
    @Option(help: "A title instead of the figure's own.") var title: String?
    @Flag(help: "phases: show each phase as a percentage of the round's time.") var relative = false

    func run() throws {
        let rows: [ResultRow]
        let documents: [String]
        do {
            rows = try ResultFiles.readRows(csvURL: URL(fileURLWithPath: results))
            documents = try figure.svgDocuments(rows: rows, title: title, relative: relative)
        } catch let error as ResultFilesError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("cannot read \(results): \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: out)
        let suffix = base.pathExtension.isEmpty ? "svg" : base.pathExtension
        for (index, document) in documents.enumerated() {
            // A second figure (scaling's bytes) goes next to the first: fig.svg, fig-bytes.svg.
            let path = index == 0 ? base.path : base.deletingPathExtension().path + "-bytes." + suffix
            do {
                try Data(document.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
            }
            print("wrote \(path) (\(figure.rawValue), \(rows.count) rows)")
        }
    }
}
