import Foundation
import Testing

@testable import SecAggPlot

@Suite("SVG charts")
struct ChartTests {
    /// The numbers of every attribute `name="..."` in elements with class `className`.
    private func attribute(_ name: String, ofClass className: String, in svg: String) -> [Double] {
        svg.split(separator: "\n").filter { $0.contains("class=\"\(className)\"") }.compactMap { line in
            guard let start = line.range(of: " \(name)=\"") else { return nil }
            let rest = line[start.upperBound...]
            return Double(rest.prefix { $0 != "\"" })
        }
    }

    private func texts(ofClass className: String, in svg: String) -> [String] {
        svg.split(separator: "\n").filter { $0.contains("class=\"\(className)\"") }.compactMap { line in
            guard let open = line.firstIndex(of: ">"), let close = line.range(of: "</text>") else { return nil }
            return String(line[line.index(after: open)..<close.lowerBound])
        }
    }

    private func logChart() -> XYChart {
        XYChart(
            title: "Time & bytes <test>",
            xAxis: Axis(label: "clients N", scale: .logarithmic),
            yAxis: Axis(label: "wall time", unit: "s", scale: .logarithmic),
            series: [
                .init(name: "SecAgg", points: [(100, 0.5), (1_000, 20), (300, 3)]),
                .init(name: "SecAgg+", points: [(100, 0.4), (1_000, 4), (3_000, 15)]),
            ])
    }

    @Test func logAxisTicksSitExactlyAtDecades() {
        let svg = logChart().svg()
        // x: data 100...3000 widens to 10^2...10^4; the plot spans 88...736 (760 wide, margins 88 and 24). Two
        // decades: 2·10^k and 5·10^k are labelled too.
        #expect(texts(ofClass: "x-tick-label", in: svg) == ["100", "200", "500", "1000", "2000", "5000", "10000"])
        let xs = attribute("x1", ofClass: "x-tick", in: svg)
        #expect(xs.count == 7)
        #expect([xs[0], xs[3], xs[6]] == [88, 412, 736])
        // log10(2) and log10(5) of the way through each decade (324 px), to the SVG's two decimals.
        for (index, factor) in [(1, 2.0), (2, 5.0), (4, 2.0), (5, 5.0)] {
            let decadeStart = index < 3 ? 88.0 : 412.0
            #expect(abs(xs[index] - (decadeStart + 324 * log10(factor))) <= 0.005)
        }
        // y: 0.4...20 widens to 10^-1...10^2: four decades over the plot height 368 (48...416).
        #expect(texts(ofClass: "y-tick-label", in: svg) == ["0.1", "1", "10", "100"])
        let ys = attribute("y1", ofClass: "y-tick", in: svg)
        #expect(ys.count == 4)
        #expect(ys.first == 416 && ys.last == 48)
        // Equal ratios, equal distances: 368 / 3 per decade (to the SVG's two decimals).
        for (a, b) in zip(ys, ys.dropFirst()) { #expect(abs((a - b) - 368.0 / 3) <= 0.01) }
        // Unlabelled 2·10^k ... 9·10^k as minor ticks: 6 per decade on x (2 and 5 are labelled), 8 on y.
        #expect(svg.components(separatedBy: "class=\"minor-tick\"").count - 1 == 12 + 24)
    }

    @Test func logFractionIsExact() {
        let axis = Axis(label: "n", scale: .logarithmic)
        #expect(axis.fraction(of: 1_000, in: 10...100_000) == 0.5)
        #expect(axis.fraction(of: 10, in: 10...100_000) == 0)
        #expect(axis.domain(for: [120, 9_000]) == 100...10_000)
        #expect(axis.domain(for: [100, 1_000]) == 100...1_000)
    }

    @Test func linearTicksAreRoundSteps() {
        let axis = Axis(label: "rate")
        #expect(axis.domain(for: [0, 0.47]) == 0...0.5)
        #expect(axis.ticks(in: 0...0.5) == [0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5])
        #expect(axis.ticks(in: 0...1).map(Axis.label(for:)) == ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        #expect(Axis.label(for: 2_000_000) == "2e+6")
        #expect(Axis.label(for: 0.0001) == "1e-4")
    }

    @Test func titleLegendAndAxisLabelsArePresentAndEscaped() {
        let svg = logChart().svg()
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(texts(ofClass: "title", in: svg) == ["Time &amp; bytes &lt;test&gt;"])
        #expect(texts(ofClass: "legend-entry", in: svg) == ["SecAgg", "SecAgg+"])
        #expect(texts(ofClass: "x-label", in: svg) == ["clients N, log scale"])
        #expect(texts(ofClass: "y-label", in: svg) == ["wall time (s), log scale"])
        // Two series with lines, 6 markers drawn (3 per series).
        #expect(svg.components(separatedBy: "class=\"series\"").count - 1 == 2)
        #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 6)
        #expect(svg.components(separatedBy: "class=\"legend-marker\"").count - 1 == 2)
    }

    @Test func pointsAnAxisCannotShowAreLeftOutNotNaN() {
        let chart = XYChart(
            title: "t", xAxis: Axis(label: "x", scale: .logarithmic), yAxis: Axis(label: "y", scale: .logarithmic),
            series: [.init(name: "s", points: [(0, 1), (10, .nan), (-5, 3), (100, .infinity), (10, 2), (100, 0)],
                           style: .markers)])
        let svg = chart.svg()
        #expect(!svg.lowercased().contains("nan") && !svg.contains("inf"))
        #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 1)
        // No drawable data at all still gives a valid, NaN-free frame.
        let empty = XYChart(title: "e", xAxis: Axis(label: "x", scale: .logarithmic), yAxis: Axis(label: "y"), series: [])
        #expect(!empty.svg().lowercased().contains("nan"))
    }

    @Test func legendGoesToTheEmptiestCorner() {
        // Points in the top left: the legend moves to the top right.
        let chart = XYChart(
            title: "t", xAxis: Axis(label: "x", range: 0...10), yAxis: Axis(label: "y", range: 0...10),
            series: [.init(name: "s", points: [(0.5, 9.5), (1, 9), (1.5, 9.2)], style: .markers)])
        let x = attribute("x", ofClass: "legend", in: chart.svg())
        #expect(x.count == 1)
        #expect((x.first ?? 0) > 400)
        // Nothing in the way: top left.
        let empty = XYChart(title: "t", xAxis: Axis(label: "x"), yAxis: Axis(label: "y"), series: [.init(name: "s", points: [])])
        #expect(attribute("x", ofClass: "legend", in: empty.svg()) == [98])
    }

    @Test func stackedBarsAddUp() {
        let chart = StackedBarChart(
            title: "phases", categories: ["a", "b"], categoryLabel: "configuration", valueAxis: Axis(label: "time", unit: "s"),
            layers: [.init(name: "advertise", values: [1, 2]), .init(name: "share", values: [3, .nan])])
        let svg = chart.svg()
        #expect(!svg.lowercased().contains("nan"))
        let heights = attribute("height", ofClass: "bar", in: svg)
        #expect(heights.count == 3)
        // Domain 0...4 over 344 px (480 − 72 above for title and legend − 64 below): 1 s = 86 px.
        #expect(heights == [86, 258, 172])
        #expect(texts(ofClass: "legend-entry", in: svg) == ["advertise", "share"])
        #expect(texts(ofClass: "x-tick-label", in: svg) == ["a", "b"])
        #expect(texts(ofClass: "y-label", in: svg) == ["time (s)"])
    }
}
