/// A chart of series of (x, y) points on linear or logarithmic axes, drawn as SVG with a title, labelled axes with
/// units, ticks, grid lines and a legend.
///
/// Points an axis cannot show (non-finite values, or values ≤ 0 on a log axis) are left out, never drawn at a made-up
/// position; the SVG never contains "nan" or "inf".
public struct XYChart: Sendable {
    /// How a series is drawn.
    public enum Style: Sendable, Equatable {
        /// Points joined by a line, with a marker at each point.
        case lineAndMarkers
        /// Markers only (measurements).
        case markers
        /// A dashed line without markers (a prediction).
        case dashedLine
    }

    /// One named series.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var style: Style
        /// Which palette colour to use; nil for the series' position. Series that belong together (a measurement
        /// and its prediction) share one.
        public var colourIndex: Int?

        public init(
            name: String, points: [(x: Double, y: Double)], style: Style = .lineAndMarkers, colourIndex: Int? = nil
        ) {
            self.name = name
            self.points = points
            self.style = style
            self.colourIndex = colourIndex
        }
    }

    public var title: String
    public var xAxis: Axis
    public var yAxis: Axis
    public var series: [Series]
    public var width: Double = 760
    public var height: Double = 480
    /// Draw earlier series with wider lines and larger markers, so that series that coincide (the same values at
    /// the same x) stay visible as nested stripes instead of hiding one another.
    public var nestsCoincidingSeries = false

    public init(title: String, xAxis: Axis, yAxis: Axis, series: [Series]) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.series = series
    }

    /// The chart as an SVG document.
    public func svg() -> String {
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.filter { xAxis.accepts($0.x) }.map(\.y) }
        var frame = PlotFrame(width: width, height: height, title: title)
        let xDomain = xAxis.domain(for: xs)
        let yDomain = yAxis.domain(for: ys)
        frame.drawAxes(x: xAxis, xDomain: xDomain, y: yAxis, yDomain: yDomain)
        var drawn: [(Double, Double)] = []
        for (index, entry) in series.enumerated() {
            let colour = Palette.colour(entry.colourIndex ?? index)
            let extra = nestsCoincidingSeries ? Double(series.count - 1 - index) * 2 : 0
            let points = entry.points
                .filter { xAxis.accepts($0.x) && yAxis.accepts($0.y) }
                .sorted { $0.x < $1.x }
                .map { frame.position(x: xAxis.fraction(of: $0.x, in: xDomain), y: yAxis.fraction(of: $0.y, in: yDomain)) }
            drawn += points
            switch entry.style {
            case .lineAndMarkers:
                frame.document.polyline(points, stroke: colour, width: 2 + extra)
                for point in points { frame.document.circle(center: point, radius: 4 + extra, fill: colour) }
            case .markers:
                for point in points { frame.document.circle(center: point, radius: 4 + extra, fill: colour) }
            case .dashedLine:
                frame.document.polyline(points, stroke: colour, dashed: true)
            }
        }
        frame.drawLegend(series.enumerated().map {
            ($0.element.name, Palette.colour($0.element.colourIndex ?? $0.offset), $0.element.style)
        }, avoiding: drawn)
        return frame.document.rendered
    }
}

/// Stacked bars: one bar per category, each split into layers (e.g. the time of each protocol phase).
public struct StackedBarChart: Sendable {
    /// One layer: its name and its value in each category (non-finite or negative values count as 0).
    public struct Layer: Sendable {
        public var name: String
        public var values: [Double]

        public init(name: String, values: [Double]) {
            self.name = name
            self.values = values
        }
    }

    public var title: String
    /// The bars' names, left to right.
    public var categories: [String]
    /// What the categories are ("clients, graph").
    public var categoryLabel: String
    /// The value axis (linear).
    public var valueAxis: Axis
    public var layers: [Layer]
    public var width: Double = 760
    public var height: Double = 480

    public init(title: String, categories: [String], categoryLabel: String, valueAxis: Axis, layers: [Layer]) {
        self.title = title
        self.categories = categories
        self.categoryLabel = categoryLabel
        self.valueAxis = valueAxis
        self.layers = layers
    }

    /// The chart as an SVG document.
    public func svg() -> String {
        func value(_ layer: Layer, _ index: Int) -> Double {
            let value = index < layer.values.count ? layer.values[index] : 0
            return value.isFinite && value > 0 ? value : 0
        }
        let totals = categories.indices.map { index in layers.reduce(0) { $0 + value($1, index) } }
        var axis = valueAxis
        axis.scale = .linear
        let domain = axis.domain(for: totals + [0])
        // The legend goes in a row above the plot: inside it, it would hide bars.
        var frame = PlotFrame(width: width, height: height, title: title, top: 72)
        frame.drawValueAxis(axis, domain: domain, categories: categories, categoryLabel: categoryLabel)
        let slot = frame.plotWidth / Double(max(1, categories.count))
        let barWidth = slot * 0.6
        for index in categories.indices {
            var base = 0.0
            let left = frame.left + slot * Double(index) + (slot - barWidth) / 2
            for (layerIndex, layer) in layers.enumerated() {
                let amount = value(layer, index)
                guard amount > 0 else { continue }
                let top = frame.position(x: 0, y: axis.fraction(of: base + amount, in: domain)).1
                let bottom = frame.position(x: 0, y: axis.fraction(of: base, in: domain)).1
                frame.document.rectangle(
                    x: left, y: top, width: barWidth, height: bottom - top, fill: Palette.colour(layerIndex),
                    stroke: "white", className: "bar")
                base += amount
            }
        }
        frame.drawLegendRow(layers.enumerated().map { ($0.element.name, Palette.colour($0.offset)) })
        return frame.document.rendered
    }
}

/// The frame shared by the charts: margins, title, axes, ticks, grid and legend.
struct PlotFrame {
    var document: SVGDocument
    let left = 88.0
    let right = 24.0
    /// Room above the plot: the title, and a legend row for bar charts.
    let top: Double
    let bottom = 64.0

    init(width: Double, height: Double, title: String, top: Double = 48) {
        self.top = top
        document = SVGDocument(width: width, height: height)
        document.text(title, at: (width / 2, 28), size: 16, anchor: .middle, bold: true, className: "title")
    }

    var plotWidth: Double { document.width - left - right }
    var plotHeight: Double { document.height - top - bottom }

    /// The pixel position of fractions (0...1) along the axes; y grows upwards.
    func position(x: Double, y: Double) -> (Double, Double) {
        (left + x * plotWidth, top + (1 - y) * plotHeight)
    }

    /// Draws both axes of an XY chart with grid, ticks, tick labels and axis titles.
    mutating func drawAxes(x: Axis, xDomain: ClosedRange<Double>, y: Axis, yDomain: ClosedRange<Double>) {
        for value in y.minorTicks(in: yDomain) {
            let (_, py) = position(x: 0, y: y.fraction(of: value, in: yDomain))
            document.line(from: (left, py), to: (left + plotWidth, py), stroke: "#f0f0f0")
            document.line(from: (left - 3, py), to: (left, py), stroke: "black", className: "minor-tick")
        }
        for value in x.minorTicks(in: xDomain) {
            let (px, _) = position(x: x.fraction(of: value, in: xDomain), y: 0)
            document.line(from: (px, top), to: (px, top + plotHeight), stroke: "#f0f0f0")
            document.line(from: (px, top + plotHeight), to: (px, top + plotHeight + 3), stroke: "black", className: "minor-tick")
        }
        for value in y.ticks(in: yDomain) {
            let (_, py) = position(x: 0, y: y.fraction(of: value, in: yDomain))
            document.line(from: (left, py), to: (left + plotWidth, py), stroke: "#dddddd")
            document.line(from: (left - 6, py), to: (left, py), stroke: "black", className: "y-tick")
            document.text(Axis.label(for: value), at: (left - 9, py + 4), size: 11, anchor: .end, className: "y-tick-label")
        }
        for value in x.ticks(in: xDomain) {
            let (px, _) = position(x: x.fraction(of: value, in: xDomain), y: 0)
            document.line(from: (px, top), to: (px, top + plotHeight), stroke: "#dddddd")
            document.line(from: (px, top + plotHeight), to: (px, top + plotHeight + 6), stroke: "black", className: "x-tick")
            document.text(Axis.label(for: value), at: (px, top + plotHeight + 20), size: 11, anchor: .middle,
                          className: "x-tick-label")
        }
        drawBox()
        document.text(x.title + (x.scale == .logarithmic ? ", log scale" : ""),
                      at: (left + plotWidth / 2, document.height - 16), size: 13, anchor: .middle, className: "x-label")
        document.text(y.title + (y.scale == .logarithmic ? ", log scale" : ""),
                      at: (20, top + plotHeight / 2), size: 13, anchor: .middle, rotated: true, className: "y-label")
    }

    /// Draws a linear value axis (vertical) and category names along the bottom.
    mutating func drawValueAxis(_ axis: Axis, domain: ClosedRange<Double>, categories: [String], categoryLabel: String) {
        for value in axis.ticks(in: domain) {
            let (_, py) = position(x: 0, y: axis.fraction(of: value, in: domain))
            document.line(from: (left, py), to: (left + plotWidth, py), stroke: "#dddddd")
            document.line(from: (left - 6, py), to: (left, py), stroke: "black", className: "y-tick")
            document.text(Axis.label(for: value), at: (left - 9, py + 4), size: 11, anchor: .end, className: "y-tick-label")
        }
        let slot = plotWidth / Double(max(1, categories.count))
        let size = categories.count > 10 ? 9.0 : 11.0
        for (index, name) in categories.enumerated() {
            // Words on lines of their own when the bars are narrow, so that neighbouring names do not overlap.
            let lines = Double(name.count) * size * 0.6 > slot * 0.95
                ? name.split(separator: " ").map(String.init) : [name]
            for (row, line) in lines.enumerated() {
                document.text(line, at: (left + slot * (Double(index) + 0.5), top + plotHeight + 16 + Double(row) * (size + 2)),
                              size: size, anchor: .middle, className: "x-tick-label")
            }
        }
        drawBox()
        document.text(categoryLabel, at: (left + plotWidth / 2, document.height - 10), size: 13, anchor: .middle,
                      className: "x-label")
        document.text(axis.title, at: (20, top + plotHeight / 2), size: 13, anchor: .middle, rotated: true,
                      className: "y-label")
    }

    private mutating func drawBox() {
        document.rectangle(x: left, y: top, width: plotWidth, height: plotHeight, fill: "none", stroke: "black",
                           className: "plot-area")
    }

    /// A legend as one row of coloured blocks and names between the title and the plot, centred.
    mutating func drawLegendRow(_ entries: [(name: String, colour: String)]) {
        guard !entries.isEmpty else { return }
        let widths = entries.map { 22 + Double($0.name.count) * 6.6 + 14 }
        var x = left + (plotWidth - widths.reduce(0, +)) / 2
        let y = top - 22
        document.rectangle(x: x - 6, y: y - 13, width: widths.reduce(0, +) + 4, height: 20, fill: "white",
                           stroke: "#999999", className: "legend")
        for (entry, width) in zip(entries, widths) {
            document.rectangle(x: x, y: y - 9, width: 14, height: 12, fill: entry.colour)
            document.text(entry.name, at: (x + 20, y + 1), size: 11, className: "legend-entry")
            x += width
        }
    }

    /// A legend box in the corner of the plot that covers the fewest of the `avoiding` points (top left when
    /// tied): a swatch (line, marker or block) and the name of each entry.
    mutating func drawLegend(
        _ entries: [(name: String, colour: String, style: XYChart.Style?)], avoiding points: [(Double, Double)] = []
    ) {
        guard !entries.isEmpty else { return }
        let longest = entries.map(\.name.count).max() ?? 0
        let boxWidth = 44 + Double(longest) * 6.6
        let boxHeight = 10 + Double(entries.count) * 18
        let corners = [
            (left + 10, top + 10), (left + plotWidth - 10 - boxWidth, top + 10),
            (left + plotWidth - 10 - boxWidth, top + plotHeight - 10 - boxHeight),
            (left + 10, top + plotHeight - 10 - boxHeight),
        ]
        func covered(_ corner: (Double, Double)) -> Int {
            points.filter { point in
                point.0 >= corner.0 - 6 && point.0 <= corner.0 + boxWidth + 6
                    && point.1 >= corner.1 - 6 && point.1 <= corner.1 + boxHeight + 6
            }.count
        }
        let (x, y) = corners.min { covered($0) < covered($1) } ?? corners[0]
        document.rectangle(x: x, y: y, width: boxWidth, height: boxHeight, fill: "white", stroke: "#999999",
                           className: "legend")
        for (index, entry) in entries.enumerated() {
            let rowY = y + 14 + Double(index) * 18
            switch entry.style {
            case .lineAndMarkers?:
                document.line(from: (x + 8, rowY - 4), to: (x + 30, rowY - 4), stroke: entry.colour, width: 2)
                document.circle(center: (x + 19, rowY - 4), radius: 4, fill: entry.colour, className: "legend-marker")
            case .markers?:
                document.circle(center: (x + 19, rowY - 4), radius: 4, fill: entry.colour, className: "legend-marker")
            case .dashedLine?:
                document.line(from: (x + 8, rowY - 4), to: (x + 30, rowY - 4), stroke: entry.colour, width: 2, dashed: true)
            case nil:
                document.rectangle(x: x + 12, y: rowY - 10, width: 14, height: 12, fill: entry.colour)
            }
            document.text(entry.name, at: (x + 36, rowY), size: 11, className: "legend-entry")
        }
    }
}
