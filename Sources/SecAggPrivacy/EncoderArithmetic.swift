import SecAggCrypto

/// Signed integers in Z_{2^bits}: the wrap that turns an encoded integer into a lane, and the lift that turns a
/// released lane back into a signed integer.
///
/// - Wrap: `x ↦ x mod 2^bits` (two's complement truncated to `bits`), so −1 becomes 2^bits − 1.
/// - Lift: a lane `v ∈ [0, 2^bits)` becomes `v` if `v ≤ 2^(bits−1)`, else `v − 2^bits`, i.e. the representative in
///   the signed range (−2^(bits−1), 2^(bits−1)]. A sum whose true value lies in that range is recovered exactly.
///
/// Both are exact for every `bits` in 1...64 and are what the encoders use; they are public so that code adding
/// integer noise to encoded lanes (or a client in another language) uses the same convention.
public enum SignedModular {
    /// 2^bits − 1, the mask that reduces a lane.
    ///
    /// - Precondition: `1 <= bits <= 64`.
    public static func mask(bits: Int) -> UInt64 {
        precondition((1...64).contains(bits), "SignedModular: bits must be in 1...64")
        return bits == 64 ? .max : (1 << UInt64(bits)) - 1
    }

    /// `value mod 2^bits` as a lane in [0, 2^bits).
    ///
    /// - Precondition: `1 <= bits <= 64`.
    public static func wrap(_ value: Int64, bits: Int) -> UInt64 {
        UInt64(bitPattern: value) & mask(bits: bits)
    }

    /// The representative of `lane` in (−2^(bits−1), 2^(bits−1)].
    ///
    /// `Int128` holds every result, including +2^63 for `bits == 64`.
    ///
    /// - Precondition: `1 <= bits <= 64` and `lane < 2^bits`.
    public static func lift(_ lane: UInt64, bits: Int) -> Int128 {
        let mask = mask(bits: bits)
        precondition(lane & ~mask == 0, "SignedModular.lift: lane not below 2^bits")
        let half = UInt64(1) << UInt64(bits - 1)
        if lane <= half { return Int128(lane) }
        // 2^bits − lane, computed without leaving 64 bits: (−lane) mod 2^bits, which is in (0, 2^(bits−1)).
        return -Int128((0 &- lane) & mask)
    }

    /// ``lift(_:bits:)`` as a `Double` (exact up to 2^53 in magnitude, correctly rounded beyond).
    ///
    /// - Precondition: as for ``lift(_:bits:)``.
    public static func liftToDouble(_ lane: UInt64, bits: Int) -> Double {
        let mask = mask(bits: bits)
        precondition(lane & ~mask == 0, "SignedModular.liftToDouble: lane not below 2^bits")
        let half = UInt64(1) << UInt64(bits - 1)
        return lane <= half ? Double(lane) : -Double((0 &- lane) & mask)
    }

    /// Throws unless `bits` is in 1...64.
    static func checkBits(_ bits: Int) throws(EncodingError) {
        guard (1...64).contains(bits) else {
            throw .invalidParameter(name: "bits", reason: "must be in 1...64, got \(bits)")
        }
    }

    /// Throws ``EncodingError/laneOutOfRange(index:bits:)`` for the first lane not below 2^bits.
    static func checkLanes(_ lanes: [UInt64], bits: Int) throws(EncodingError) {
        let mask = mask(bits: bits)
        if let index = lanes.firstIndex(where: { $0 & ~mask != 0 }) {
            throw .laneOutOfRange(index: index, bits: bits)
        }
    }
}

/// Exact squared L2 norms of integer vectors, saturating instead of overflowing.
enum EncoderNorm {
    /// Σ values[i]² computed exactly in 128 bits, saturated at `UInt128.max`.
    static func squared(_ values: [Int64]) -> UInt128 {
        var sum: UInt128 = 0
        for value in values {
            let magnitude = UInt128(value.magnitude)
            let (total, overflow) = sum.addingReportingOverflow(magnitude * magnitude)
            if overflow { return .max }
            sum = total
        }
        return sum
    }

    /// Σ values[i]² for unsigned values, computed exactly in 128 bits, saturated at `UInt128.max`.
    static func squared(_ values: [UInt64]) -> UInt128 {
        var sum: UInt128 = 0
        for value in values {
            let (total, overflow) = sum.addingReportingOverflow(UInt128(value) * UInt128(value))
            if overflow { return .max }
            sum = total
        }
        return sum
    }

    /// ⌊bound²⌋ as an integer threshold (saturated), so that for an integer vector `z`,
    /// `Σ z_i² ≤ threshold(bound²)` holds exactly when `Σ z_i² ≤ bound²`.
    ///
    /// - Precondition: `squaredBound >= 0` and not NaN.
    static func threshold(squaredBound: Double) -> UInt128 {
        precondition(squaredBound >= 0, "EncoderNorm.threshold: negative bound")
        let floored = squaredBound.rounded(.down)
        // 2^128 as a Double; anything at or above it saturates.
        if floored >= 0x1p128 { return .max }
        return UInt128(floored)
    }
}

extension RandomSource {
    /// Fills `output` with uniform doubles in [0, 1): each is `(w >> 11) · 2^−53` for the next little-endian
    /// 64-bit word `w` of the stream, words consumed in order (the rule the encoders' randomized rounding uses).
    mutating func fillUnitUniforms(_ output: inout [Double]) {
        let chunk = 4096
        var words = [UInt64](repeating: 0, count: Swift.min(chunk, output.count))
        var start = 0
        while start < output.count {
            let count = Swift.min(chunk, output.count - start)
            words.withUnsafeMutableBytes { raw in
                fill(UnsafeMutableRawBufferPointer(rebasing: raw[0..<(count * 8)]))
            }
            for offset in 0..<count {
                output[start + offset] = Double(UInt64(littleEndian: words[offset]) >> 11) * 0x1p-53
            }
            start += count
        }
    }
}
