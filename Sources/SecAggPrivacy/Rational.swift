/// A non-negative rational number `numerator / denominator` with 64-bit parts, always in lowest terms.
///
/// The exact samplers take their parameters (a variance, a scale, a probability) as `Rational` so that the sampling
/// path never touches floating point: a `Double` such as `0.1` is not one tenth, and rounding a parameter inside a
/// sampler is exactly what the floating-point attacks on differential privacy exploit (Mironov 2012). Convert a
/// user-facing value once, explicitly, with ``init(decimal:)`` (the decimal the user typed, exactly) or
/// ``exactly(_:)`` (the binary value a `Double` really holds), and hand the result to the sampler.
///
/// Values are stored reduced (`gcd(numerator, denominator) == 1`), so `==` and hashing compare values:
/// `Rational(2, 4) == Rational(1, 2)`.
public struct Rational: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The numerator, in lowest terms.
    public let numerator: UInt64

    /// The denominator, in lowest terms; never zero.
    public let denominator: UInt64

    /// The rational `numerator / denominator`, reduced to lowest terms.
    ///
    /// - Throws: ``PrivacyError/invalidParameter(_:)`` if `denominator` is zero.
    public init(_ numerator: UInt64, _ denominator: UInt64) throws(PrivacyError) {
        guard denominator > 0 else {
            throw .invalidParameter("rational \(numerator)/0: the denominator must be positive")
        }
        let divisor = Self.gcd(numerator, denominator)
        self.numerator = numerator / divisor
        self.denominator = denominator / divisor
    }

    /// The integer `value` as a rational (`value / 1`).
    public init(integer value: UInt64) {
        numerator = value
        denominator = 1
    }

    /// Builds a value already known to be reduced with a positive denominator.
    private init(reducedNumerator numerator: UInt64, denominator: UInt64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The exact value of a finite, non-negative `Double`, or `nil` when that value does not fit (its reduced
    /// numerator or denominator would exceed `UInt64.max`, e.g. `1e30` or `1e-30`).
    ///
    /// A `Double` is `m · 2^e` exactly, so the result is that dyadic number, not the decimal that was typed:
    /// `exactly(0.1)` is `3602879701896397 / 36028797018963968`. Use ``init(decimal:)`` to keep a typed decimal.
    ///
    /// - Throws: ``PrivacyError/invalidParameter(_:)`` if `value` is NaN, infinite or negative (`-0.0` is zero).
    public static func exactly(_ value: Double) throws(PrivacyError) -> Rational? {
        guard value.isFinite else {
            throw .invalidParameter("\(value) is not finite: a privacy parameter must be a finite number")
        }
        guard value >= 0 else {
            throw .invalidParameter("\(value) is negative: a privacy parameter must be non-negative")
        }
        if value == 0 { return Rational(integer: 0) }
        // value = significand · 2^exponent with an integer significand of at most 53 bits.
        var significand: UInt64
        var exponent: Int
        if value.isNormal {
            significand = (1 << UInt64(Double.significandBitCount)) | value.significandBitPattern
            exponent = Int(value.exponent) - Double.significandBitCount
        } else {
            significand = value.significandBitPattern
            exponent = Int(Double.leastNormalMagnitude.exponent) - Double.significandBitCount
        }
        let trailingZeros = significand.trailingZeroBitCount
        significand >>= UInt64(trailingZeros)
        exponent += trailingZeros
        if exponent >= 0 {
            guard exponent < 64, significand.leadingZeroBitCount >= exponent else { return nil }
            return Rational(reducedNumerator: significand << UInt64(exponent), denominator: 1)
        }
        // An odd significand over a power of two is already in lowest terms.
        guard -exponent <= 63 else { return nil }
        return Rational(reducedNumerator: significand, denominator: 1 << UInt64(-exponent))
    }

    /// The smallest multiple of `2^−fractionalBits` that is at least `value`: a conservative rational for a
    /// computed (floating-point) quantity such as a calibrated σ², so that the noise actually added is never
    /// smaller than the accountant asked for. Exact: scaling a `Double` by a power of two and taking the ceiling
    /// involve no rounding.
    ///
    /// - Throws: ``PrivacyError/invalidParameter(_:)`` if `value` is NaN, infinite or negative, if
    ///   `fractionalBits` is outside `0 ... 62`, or if the scaled value does not fit 64 bits.
    public static func roundedUp(_ value: Double, fractionalBits: Int = 16) throws(PrivacyError) -> Rational {
        guard value.isFinite, value >= 0 else {
            throw .invalidParameter("\(value) must be a finite non-negative number")
        }
        guard (0...62).contains(fractionalBits) else {
            throw .invalidParameter("fractionalBits \(fractionalBits) must be in 0...62")
        }
        let scaled = (value * Double(sign: .plus, exponent: fractionalBits, significand: 1)).rounded(.up)
        guard scaled < 0x1p64 else {
            throw .invalidParameter("\(value) · 2^\(fractionalBits) does not fit 64 bits; use fewer fractional bits")
        }
        return try Rational(UInt64(scaled), 1 << UInt64(fractionalBits))
    }

    /// Parses a non-negative decimal exactly: digits with an optional fractional part and an optional exponent,
    /// such as `"2.5"`, `"0.001"`, `"10"`, `".5"` or `"1e6"`. Returns `nil` for anything else (signs, spaces,
    /// fractions like `"1/3"` — use ``init(_:_:)`` for those) or when the reduced value does not fit 64-bit parts.
    public init?(decimal text: String) {
        var mantissaDigits: [UInt8] = []
        var fractionDigitCount = 0
        var exponent = 0
        var seenPoint = false
        var utf8 = Substring(text).utf8[...]
        // Mantissa: digits and at most one point.
        while let byte = utf8.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                mantissaDigits.append(byte - UInt8(ascii: "0"))
                if seenPoint { fractionDigitCount += 1 }
            } else {
                return nil
            }
        }
        guard !mantissaDigits.isEmpty else { return nil }
        // Optional exponent: e or E, an optional sign, at least one digit, at most 4 digits.
        if !utf8.isEmpty {
            utf8 = utf8.dropFirst()
            var negativeExponent = false
            if let sign = utf8.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                negativeExponent = sign == UInt8(ascii: "-")
                utf8 = utf8.dropFirst()
            }
            guard !utf8.isEmpty, utf8.count <= 4 else { return nil }
            for byte in utf8 {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
            }
            if negativeExponent { exponent = -exponent }
        }
        // Drop trailing zeros of the mantissa (each one moves the decimal exponent up) and leading zeros.
        while mantissaDigits.count > 1, mantissaDigits.last == 0 {
            mantissaDigits.removeLast()
            exponent += 1
        }
        exponent -= fractionDigitCount
        var mantissa: UInt128 = 0
        for digit in mantissaDigits {
            let (shifted, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt128(digit))
            guard !overflow1, !overflow2, sum <= UInt128(UInt64.max) else { return nil }
            mantissa = sum
        }
        if mantissa == 0 {
            self.init(integer: 0)
            return
        }
        // value = mantissa · 10^exponent; both parts must fit after reduction.
        guard let power = Self.powerOfTen(abs(exponent)) else { return nil }
        var numerator = mantissa
        var denominator: UInt128 = 1
        if exponent >= 0 {
            let (product, overflow) = numerator.multipliedReportingOverflow(by: power)
            guard !overflow else { return nil }
            numerator = product
        } else {
            denominator = power
        }
        let divisor = Self.gcd(numerator, denominator)
        numerator /= divisor
        denominator /= divisor
        guard numerator <= UInt128(UInt64.max), denominator <= UInt128(UInt64.max) else { return nil }
        self.init(reducedNumerator: UInt64(numerator), denominator: UInt64(denominator))
    }

    /// `"n/d"`, or `"n"` when the denominator is 1.
    public var description: String {
        denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)"
    }

    /// Whether the value is zero.
    public var isZero: Bool { numerator == 0 }

    /// Orders by value (cross-multiplication in 128 bits, so it never overflows).
    public static func < (lhs: Rational, rhs: Rational) -> Bool {
        UInt128(lhs.numerator) * UInt128(rhs.denominator) < UInt128(rhs.numerator) * UInt128(lhs.denominator)
    }

    /// 10^exponent when it fits in 128 bits.
    private static func powerOfTen(_ exponent: Int) -> UInt128? {
        guard exponent <= 38 else { return nil }
        var result: UInt128 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    /// Greatest common divisor (Euclid); `gcd(0, b) == b`.
    static func gcd<T: FixedWidthInteger & UnsignedInteger>(_ a: T, _ b: T) -> T {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
