#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How an axis maps data values to positions.
public enum AxisScale: Sendable, Equatable {
    /// Equal distances for equal differences.
    case linear
    /// Equal distances for equal ratios (base 10); only positive values can be drawn.
    case logarithmic
}

/// One axis of a chart: what it shows, in which unit, on which scale, over which range.
public struct Axis: Sendable, Equatable {
    /// What the axis measures ("wall time").
    public var label: String
    /// The unit, shown in brackets after the label ("s"); empty for none.
    public var unit: String
    public var scale: AxisScale
    /// A fixed range, or nil to fit the data (widened to whole decades on a log axis, to round ticks on a linear one).
    public var range: ClosedRange<Double>?

    public init(label: String, unit: String = "", scale: AxisScale = .linear, range: ClosedRange<Double>? = nil) {
        self.label = label
        self.unit = unit
        self.scale = scale
        self.range = range
    }

    /// The label with its unit: "wall time (s)".
    public var title: String { unit.isEmpty ? label : "\(label) (\(unit))" }

    /// Whether `value` can be drawn on this axis (finite, and positive on a log axis).
    public func accepts(_ value: Double) -> Bool {
        value.isFinite && (scale == .linear || value > 0)
    }

    /// The range actually drawn for data spanning `values` (those the axis accepts): the fixed range if set, else
    /// whole decades around the data (log) or the data's span rounded out to the tick step (linear).
    public func domain(for values: [Double]) -> ClosedRange<Double> {
        if let range { return range }
        let usable = values.filter(accepts)
        guard let low = usable.min(), let high = usable.max() else {
            return scale == .logarithmic ? 1...10 : 0...1
        }
        switch scale {
        case .logarithmic:
            let lower = floor(log10(low))
            var upper = ceil(log10(high))
            if upper <= lower { upper = lower + 1 }
            return pow(10, lower)...pow(10, upper)
        case .linear:
            var lower = min(low, 0 < low && low < high ? 0 : low)
            var upper = high
            if upper <= lower {
                lower -= 0.5
                upper += 0.5
            }
            let step = Self.niceStep(for: upper - lower)
            return (floor(lower / step) * step)...(ceil(upper / step) * step)
        }
    }

    /// The fraction 0...1 of the way along `domain` at which `value` lies (outside 0...1 when outside the domain).
    public func fraction(of value: Double, in domain: ClosedRange<Double>) -> Double {
        switch scale {
        case .linear:
            return (value - domain.lowerBound) / (domain.upperBound - domain.lowerBound)
        case .logarithmic:
            let low = log10(domain.lowerBound)
            return (log10(value) - low) / (log10(domain.upperBound) - low)
        }
    }

    /// Labelled tick values inside `domain`: each power of ten on a log axis (every other one or sparser when there
    /// are more than 8 decades; 1, 2 and 5 times each when there are at most two), multiples of a 1-2-5 step on a
    /// linear one.
    public func ticks(in domain: ClosedRange<Double>) -> [Double] {
        switch scale {
        case .logarithmic:
            let low = Int(ceil(log10(domain.lowerBound) - 1e-9))
            let high = Int(floor(log10(domain.upperBound) + 1e-9))
            guard low <= high else { return [] }
            let stride = max(1, (high - low + 7) / 8)
            let decades = Swift.stride(from: low, through: high, by: stride).map { pow(10, Double($0)) }
            // Two decades or less: 2·10^k and 5·10^k are labelled too, or the axis has too few numbers to read.
            guard log10(domain.upperBound / domain.lowerBound) <= 2 + 1e-9 else { return decades }
            return Self.multiples([1, 2, 5], in: domain)
        case .linear:
            let step = Self.niceStep(for: domain.upperBound - domain.lowerBound)
            let first = ceil(domain.lowerBound / step - 1e-9)
            let last = floor(domain.upperBound / step + 1e-9)
            guard first <= last else { return [] }
            // Multiplying (not accumulating) keeps each tick exact to one rounding.
            return Swift.stride(from: first, through: last, by: 1).map { $0 * step }
        }
    }

    /// Unlabelled minor ticks of a log axis: those of 2·10^k ... 9·10^k inside the domain that are not labelled
    /// (none on a linear axis, or beyond 8 decades).
    public func minorTicks(in domain: ClosedRange<Double>) -> [Double] {
        guard scale == .logarithmic else { return [] }
        let low = Int(floor(log10(domain.lowerBound)))
        let high = Int(ceil(log10(domain.upperBound)))
        guard high - low <= 8 else { return [] }
        let labelled = Set(ticks(in: domain))
        return Self.multiples(Array(2...9), in: domain).filter { !labelled.contains($0) }
    }

    /// m·10^k for each multiple m, inside `domain`, ascending.
    private static func multiples(_ factors: [Int], in domain: ClosedRange<Double>) -> [Double] {
        let low = Int(floor(log10(domain.lowerBound)))
        let high = Int(ceil(log10(domain.upperBound)))
        var values: [Double] = []
        for exponent in low...high {
            for factor in factors {
                // 10^k exactly, then one multiplication: 2·10^k is the nearest double to it.
                let value = Double(factor) * pow(10, Double(exponent))
                if value >= domain.lowerBound * (1 - 1e-12), value <= domain.upperBound * (1 + 1e-12) {
                    values.append(value)
                }
            }
        }
        return values
    }

    /// A step of 1, 2 or 5 times a power of ten giving about five intervals over `span`.
    static func niceStep(for span: Double) -> Double {
        guard span.isFinite, span > 0 else { return 1 }
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let normalized = raw / magnitude
        let factor: Double = normalized < 1.5 ? 1 : normalized < 3.5 ? 2 : normalized < 7.5 ? 5 : 10
        return factor * magnitude
    }

    /// A tick label: plain for 0.001 ≤ |v| < 10^6 (no trailing zeros), else "2e+06" style.
    public static func label(for value: Double) -> String {
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e-3, magnitude < 1e6 {
            let rounded = (value * 1e6).rounded() / 1e6
            if rounded == rounded.rounded() { return String(Int64(rounded)) }
            var text = "\(rounded)"
            if text.contains("e") { text = formatDecimal(rounded) }
            return text
        }
        let exponent = Int(floor(log10(magnitude)))
        let mantissa = value / pow(10, Double(exponent))
        let mantissaText = abs(mantissa - mantissa.rounded()) < 1e-9 ? String(Int(mantissa.rounded())) : formatDecimal(mantissa)
        return "\(mantissaText)e\(exponent >= 0 ? "+" : "")\(exponent)"
    }

    /// Up to six decimals, trailing zeros removed.
    private static func formatDecimal(_ value: Double) -> String {
        var digits = String(Int64((abs(value) * 1e6).rounded()))
        while digits.count < 7 { digits = "0" + digits }
        let whole = digits.dropLast(6)
        var fraction = String(digits.suffix(6))
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return (value < 0 ? "-" : "") + whole + (fraction.isEmpty ? "" : "." + fraction)
    }
}
