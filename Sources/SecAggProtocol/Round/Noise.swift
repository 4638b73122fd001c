import SecAggCrypto
import SecAggMath
import SecAggPrivacy
import SecAggWire

extension ModularVector {
    /// Adds independent discrete Gaussian noise N_Z(0, variance) to every entry, modulo 2^bits (SPEC §5.10): a
    /// negative sample x is added as 2^bits + x. The variance was validated with the round parameters.
    mutating func addNoise(variance: NoiseVariance, using random: inout some RandomSource) {
        guard let sigmaSquared = try? Rational(variance.numerator, variance.denominator),
              let gaussian = try? DiscreteGaussian(sigmaSquared: sigmaSquared) else {
            preconditionFailure("noise variance validated with the round parameters")
        }
        let mask: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let chunk = 4096
        var samples = [Int64](repeating: 0, count: chunk)
        var wrapped = [UInt64](repeating: 0, count: chunk)
        var noise = [UInt64]()
        noise.reserveCapacity(count)
        var remaining = count
        while remaining > 0 {
            let take = min(chunk, remaining)
            samples.withUnsafeMutableBufferPointer { buffer in
                gaussian.fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<take]), using: &random)
            }
            for position in 0..<take { wrapped[position] = UInt64(bitPattern: samples[position]) & mask }
            noise.append(contentsOf: wrapped[0..<take])
            remaining -= take
        }
        guard let vector = try? ModularVector(values: noise, bits: bits), (try? add(vector)) != nil else {
            preconditionFailure("noise lanes are reduced modulo 2^bits and match the vector's shape")
        }
    }

    /// The entries read as signed numbers: a lane v ≥ 2^(bits−1) stands for v − 2^bits (how a noisy sum is read).
    public var signedValues: [Int64] {
        let half: UInt64 = bits == 64 ? 1 << 63 : UInt64(1) << UInt64(bits - 1)
        let modulus: UInt64 = bits == 64 ? 0 : UInt64(1) << UInt64(bits)
        return values.map { value in
            if value < half { return Int64(value) }
            return bits == 64 ? Int64(bitPattern: value) : -Int64(modulus - value)
        }
    }
}
