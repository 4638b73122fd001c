import Foundation
import SecAggPlot

/// The standard figures drawn from a results file (`secagg plot RESULTS.csv --figure NAME`).
public enum ResultFigure: String, Sendable, CaseIterable {
    /// Wall time and bytes per client against N on log axes, SecAgg (complete graph) against SecAgg+ (Harary).
    case scaling
    /// Stacked bars: the time of each protocol phase, per configuration.
    case phases
    /// The fraction of runs that released a correct sum against the injected dropout rate, one series per phase.
    case dropout
    /// Measured RMSE of the release against ε (points) with the predicted RMSE (dashed), per noise placement.
    case dpError = "dp-error"

    /// The figure as SVG documents: one for most figures, two for `scaling` (time, then bytes).
    ///
    /// - Throws: ``ResultFilesError`` when the rows hold nothing this figure can show.
    /// - Parameter relative: For `phases`: each phase as a percentage of the round's time, so that short rounds
    ///   can be compared with long ones.
    public func svgDocuments(rows: [ResultRow], title: String? = nil, relative: Bool = false) throws -> [String] {
        switch self {
        case .scaling: return try scaling(rows, title: title)
        case .phases: return [try phases(rows, title: title, relative: relative)]
        case .dropout: return [try dropout(rows, title: title)]
        case .dpError: return [try dpError(rows, title: title)]
        }
    }

    private func number(_ row: ResultRow, _ column: String) -> Double? {
        if case let .text(text) = row[column] { return Double(text) }
        if case let .number(value) = row[column] { return value }
        if case let .integer(value) = row[column] { return Double(value) }
        return nil
    }

    private func text(_ row: ResultRow, _ column: String) -> String {
        row[column].csvText
    }

    private func succeeded(_ row: ResultRow) -> Bool { text(row, "success") == "true" }

    /// Mean of `column` over the successful rows of each group, keyed by `x`.
    private func means(
        _ rows: [ResultRow], x: String, y: String, onlySuccessful: Bool = true
    ) -> [(x: Double, y: Double)] {
        var sums: [Double: (Double, Int)] = [:]
        for row in rows where !onlySuccessful || succeeded(row) {
            guard let key = number(row, x), let value = number(row, y) else { continue }
            let (sum, count) = sums[key] ?? (0, 0)
            sums[key] = (sum + value, count + 1)
        }
        return sums.keys.sorted().map { key in (key, sums[key]!.0 / Double(sums[key]!.1)) }
    }

    private func graphName(_ graph: String) -> String {
        graph == "complete" ? "SecAgg (complete graph)" : "SecAgg+ (Harary graph)"
    }

    private func scaling(_ rows: [ResultRow], title: String?) throws -> [String] {
        let graphs = ["complete", "harary"].filter { graph in rows.contains { text($0, "graph") == graph && succeeded($0) } }
        guard !graphs.isEmpty else { throw ResultFilesError("no successful runs to plot") }
        let dimensions = Set(rows.map { text($0, "dimension") }).sorted()
        let suffix = dimensions.count == 1 ? ", d = \(dimensions[0])" : ""
        let time = XYChart(
            title: title ?? "Round wall time vs clients\(suffix)",
            xAxis: Axis(label: "clients N", scale: .logarithmic),
            yAxis: Axis(label: "wall time of the round", unit: "s", scale: .logarithmic),
            series: graphs.map { graph in
                .init(name: graphName(graph), points: means(rows.filter { text($0, "graph") == graph }, x: "clients", y: "wall_seconds"))
            })
        var bytesSeries: [XYChart.Series] = []
        for graph in graphs {
            let subset = rows.filter { text($0, "graph") == graph }
            bytesSeries.append(.init(name: "\(graphName(graph)), up, mean", points: means(subset, x: "clients", y: "bytes_up_mean")))
            bytesSeries.append(.init(
                name: "\(graphName(graph)), down, mean", points: means(subset, x: "clients", y: "bytes_down_mean")))
        }
        let bytes = XYChart(
            title: title.map { "\($0): bytes" } ?? "Bytes per surviving client vs clients\(suffix)",
            xAxis: Axis(label: "clients N", scale: .logarithmic),
            yAxis: Axis(label: "bytes per surviving client", unit: "B", scale: .logarithmic),
            series: bytesSeries)
        return [time.svg(), bytes.svg()]
    }

    private func phases(_ rows: [ResultRow], title: String?, relative: Bool) throws -> String {
        let phaseColumns = ResultRow.columns.filter { $0.hasPrefix("seconds_") }
        // One bar per configuration (all parameters but the seed), phase times averaged over its successful runs.
        var order: [String] = []
        var groups: [String: [ResultRow]] = [:]
        for row in rows where succeeded(row) {
            let name = "N=\(text(row, "clients")) \(text(row, "graph"))"
                + (text(row, "mode") == "active" ? " active" : "")
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(row)
        }
        guard !order.isEmpty else { throw ResultFilesError("no successful runs to plot") }
        func mean(_ name: String, _ column: String) -> Double {
            let group = groups[name]!
            return group.compactMap { number($0, column) }.reduce(0, +) / Double(group.count)
        }
        let totals = order.map { name in phaseColumns.reduce(0) { $0 + mean(name, $1) } }
        let layers = phaseColumns.compactMap { column -> StackedBarChart.Layer? in
            let values = order.enumerated().map { index, name -> Double in
                let seconds = mean(name, column)
                return relative ? (totals[index] > 0 ? 100 * seconds / totals[index] : 0) : seconds
            }
            guard values.contains(where: { $0 > 0 }) else { return nil }
            return .init(name: String(column.dropFirst("seconds_".count)), values: values)
        }
        return StackedBarChart(
            title: title ?? (relative ? "Share of each protocol phase in the round's time" : "Time per protocol phase"),
            categories: order, categoryLabel: "configuration",
            valueAxis: relative ? Axis(label: "share of the round's time", unit: "%", range: 0...100)
                : Axis(label: "time", unit: "s"),
            layers: layers
        ).svg()
    }

    private func dropout(_ rows: [ResultRow], title: String?) throws -> String {
        guard !rows.isEmpty else { throw ResultFilesError("no runs to plot") }
        var phases: [String] = []
        for row in rows where !phases.contains(text(row, "drop_phase")) { phases.append(text(row, "drop_phase")) }
        let series = phases.map { phase -> XYChart.Series in
            let subset = rows.filter { text($0, "drop_phase") == phase }
            var outcomes: [Double: (Int, Int)] = [:]
            for row in subset {
                guard let rate = number(row, "dropout") else { continue }
                let (wins, total) = outcomes[rate] ?? (0, 0)
                outcomes[rate] = (wins + (succeeded(row) ? 1 : 0), total + 1)
            }
            let points = outcomes.keys.sorted().map { ($0, Double(outcomes[$0]!.0) / Double(outcomes[$0]!.1)) }
            return .init(name: "drop in \(phase)", points: points)
        }
        let clients = Set(rows.map { text($0, "clients") }).sorted()
        let design = Set(rows.map { text($0, "design_dropout") }).sorted()
        let degrees = Set(rows.map { "k = \(text($0, "neighbors")), t = \(text($0, "threshold"))" })
        let subtitle = (clients.count == 1 ? ", N = \(clients[0])" : "")
            + (degrees.count == 1 ? ", \(degrees.first!)" : ", (k, t)")
            + (design.count == 1 ? " (designed for \(design[0]))" : "")
        let seeds = Set(rows.map { text($0, "seed") }).count
        var chart = XYChart(
            title: title ?? "Success rate vs injected dropout\(subtitle)",
            xAxis: Axis(label: "injected dropout rate (\(seeds) seed\(seeds == 1 ? "" : "s") per point)"),
            // A little room beyond 0 and 1 so that points there are not hidden by the frame.
            yAxis: Axis(label: "fraction of runs releasing the sum", range: -0.03...1.03),
            series: series)
        // Phases often give the same outcome at every rate: nested lines keep each visible.
        chart.nestsCoincidingSeries = true
        return chart.svg()
    }

    private func dpError(_ rows: [ResultRow], title: String?) throws -> String {
        let noisy = rows.filter { text($0, "dp") != "none" && text($0, "dp") != "" }
        guard !noisy.isEmpty else { throw ResultFilesError("no runs with --dp to plot") }
        // One pair of series (measured, predicted) per placement and, for distributed noise, per t_min: the noise
        // each client adds is sized for t_min.
        var groups: [String] = []
        func group(_ row: ResultRow) -> String {
            text(row, "dp") == "central" ? "central noise" : "distributed, t_min = \(text(row, "t_min"))"
        }
        for row in noisy where !groups.contains(group(row)) { groups.append(group(row)) }
        var series: [XYChart.Series] = []
        for (index, name) in groups.enumerated() {
            let subset = noisy.filter { group($0) == name }
            let measured = subset.filter(succeeded).compactMap { row -> (x: Double, y: Double)? in
                guard let epsilon = number(row, "epsilon"), let rmse = number(row, "rmse") else { return nil }
                return (epsilon, rmse)
            }
            series.append(.init(name: "\(name), measured", points: measured, style: .markers, colourIndex: index))
            series.append(.init(name: "\(name), predicted", points: means(subset, x: "epsilon", y: "predicted_rmse"),
                                style: .dashedLine, colourIndex: index))
        }
        let clients = Set(noisy.map { text($0, "clients") }).sorted()
        let dimensions = Set(noisy.map { text($0, "dimension") }).sorted()
        let subtitle = clients.count == 1 && dimensions.count == 1 ? ", N = \(clients[0]), d = \(dimensions[0])" : ""
        return XYChart(
            title: title ?? "Error of the release vs ε per round\(subtitle)",
            xAxis: Axis(label: "ε of one round (δ as configured)", scale: .logarithmic),
            yAxis: Axis(label: "RMSE per entry vs the exact sum", scale: .logarithmic),
            series: series
        ).svg()
    }
}
