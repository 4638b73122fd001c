/// Arithmetic in GF(p) for the Mersenne prime p = 2^61 − 1, the field that Shamir sharing works in.
///
/// Elements are `UInt64` values in `0..<p`. The Mersenne form makes reduction cheap: because 2^61 ≡ 1 (mod p), a
/// value `h · 2^61 + l` with `l < 2^61` is congruent to `h + l`, so a 122-bit product folds to a residue with two
/// shifts, two additions and one conditional subtraction, without any division. The field holds every 7-byte
/// chunk of a secret (values below 2^56) and every x-coordinate a `UInt32` participant index can take.
///
/// Nothing here branches on secret data except the final conditional subtractions of `add` and `multiply`,
/// which compile to conditional moves; shares are not treated as timing-sensitive beyond that.
public enum PrimeField {
    /// The modulus p = 2^61 − 1.
    public static let prime: UInt64 = (1 << 61) - 1

    /// Whether `value` is a canonical field element (below p).
    @inlinable
    public static func isElement(_ value: UInt64) -> Bool {
        value < prime
    }

    /// (a + b) mod p for canonical `a` and `b`.
    @inlinable
    public static func add(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let sum = a &+ b  // < 2^62, no overflow
        return sum >= prime ? sum &- prime : sum
    }

    /// (a − b) mod p for canonical `a` and `b`.
    @inlinable
    public static func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 {
        a >= b ? a &- b : a &+ (prime &- b)
    }

    /// (−a) mod p for canonical `a`.
    @inlinable
    public static func negate(_ a: UInt64) -> UInt64 {
        a == 0 ? 0 : prime &- a
    }

    /// (a · b) mod p for canonical `a` and `b`: a full-width product folded twice modulo 2^61 − 1.
    @inlinable
    public static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (high, low) = a.multipliedFullWidth(by: b)
        // product = (product >> 61) · 2^61 + (product & p); both parts are below 2^61 since product < 2^122.
        let upper = (high << 3) | (low >> 61)
        let folded = (low & prime) &+ upper  // < 2^62
        let reduced = (folded & prime) &+ (folded >> 61)  // ≤ p + 1
        return reduced >= prime ? reduced &- prime : reduced
    }

    /// base^exponent mod p by square-and-multiply.
    @inlinable
    public static func power(_ base: UInt64, _ exponent: UInt64) -> UInt64 {
        var result: UInt64 = 1
        var square = base
        var remaining = exponent
        while remaining != 0 {
            if remaining & 1 == 1 { result = multiply(result, square) }
            square = multiply(square, square)
            remaining >>= 1
        }
        return result
    }

    /// The multiplicative inverse a^(p−2) mod p (Fermat's little theorem).
    ///
    /// - Precondition: `a` is a nonzero canonical element.
    @inlinable
    public static func inverse(_ a: UInt64) -> UInt64 {
        precondition(a != 0 && a < prime, "PrimeField.inverse needs a nonzero element")
        return power(a, prime &- 2)
    }

    /// Replaces every element of `values` by its inverse with one exponentiation and 3(n − 1) multiplications
    /// (Montgomery's simultaneous-inversion trick).
    ///
    /// - Precondition: every element is nonzero and canonical.
    static func invertAll(_ values: inout [UInt64]) {
        let count = values.count
        guard count > 0 else { return }
        var prefix = [UInt64](repeating: 1, count: count)
        var running: UInt64 = 1
        for index in 0..<count {
            prefix[index] = running
            running = multiply(running, values[index])
        }
        var inverseOfRunning = inverse(running)
        for index in stride(from: count - 1, through: 0, by: -1) {
            let value = values[index]
            values[index] = multiply(inverseOfRunning, prefix[index])
            inverseOfRunning = multiply(inverseOfRunning, value)
        }
    }
}
