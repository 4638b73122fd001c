/// An SVG document built element by element: the only place that writes SVG text, so escaping and number
/// formatting (finite, fixed precision, never "nan") are done once.
struct SVGDocument {
    let width: Double
    let height: Double
    private var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    /// A number as an attribute: two decimals at most; a non-finite value (which callers never pass on purpose)
    /// becomes 0 so that the document stays valid.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }

    /// Text with the five XML special characters escaped.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }

    mutating func line(
        from start: (Double, Double), to end: (Double, Double), stroke: String, width: Double = 1,
        dashed: Bool = false, className: String? = nil
    ) {
        let dash = dashed ? " stroke-dasharray=\"6 4\"" : ""
        let type = className.map { " class=\"\($0)\"" } ?? ""
        elements.append(
            "<line\(type) x1=\"\(Self.number(start.0))\" y1=\"\(Self.number(start.1))\" x2=\"\(Self.number(end.0))\" "
            + "y2=\"\(Self.number(end.1))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\"\(dash)/>")
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 2, dashed: Bool = false) {
        guard points.count >= 2 else { return }
        let text = points.map { "\(Self.number($0.0)),\(Self.number($0.1))" }.joined(separator: " ")
        let dash = dashed ? " stroke-dasharray=\"6 4\"" : ""
        elements.append(
            "<polyline class=\"series\" points=\"\(text)\" fill=\"none\" stroke=\"\(stroke)\" "
            + "stroke-width=\"\(Self.number(width))\"\(dash)/>")
    }

    mutating func circle(center: (Double, Double), radius: Double, fill: String, className: String = "point") {
        elements.append(
            "<circle class=\"\(className)\" cx=\"\(Self.number(center.0))\" cy=\"\(Self.number(center.1))\" "
            + "r=\"\(Self.number(radius))\" fill=\"\(fill)\" stroke=\"white\" stroke-width=\"1\"/>")
    }

    mutating func rectangle(
        x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String = "none",
        className: String? = nil
    ) {
        let type = className.map { " class=\"\($0)\"" } ?? ""
        elements.append(
            "<rect\(type) x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" width=\"\(Self.number(max(0, width)))\" "
            + "height=\"\(Self.number(max(0, height)))\" fill=\"\(fill)\" stroke=\"\(stroke)\"/>")
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(
        _ content: String, at point: (Double, Double), size: Double = 12, anchor: Anchor = .start,
        rotated: Bool = false, bold: Bool = false, className: String? = nil
    ) {
        let rotation = rotated
            ? " transform=\"rotate(-90 \(Self.number(point.0)) \(Self.number(point.1)))\"" : ""
        let weight = bold ? " font-weight=\"bold\"" : ""
        let type = className.map { " class=\"\($0)\"" } ?? ""
        elements.append(
            "<text\(type) x=\"\(Self.number(point.0))\" y=\"\(Self.number(point.1))\" font-size=\"\(Self.number(size))\" "
            + "text-anchor=\"\(anchor.rawValue)\"\(weight)\(rotation)>\(Self.escaped(content))</text>")
    }

    /// The document's text.
    var rendered: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Self.number(width))" height="\(Self.number(height))" \
        viewBox="0 0 \(Self.number(width)) \(Self.number(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(Self.number(width))" height="\(Self.number(height))" fill="white"/>
        \(elements.joined(separator: "\n"))
        </svg>

        """
    }
}

/// Colours that stay distinguishable for the common kinds of colour blindness (Okabe and Ito).
enum Palette {
    static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

    static func colour(_ index: Int) -> String { colours[index % colours.count] }
}
