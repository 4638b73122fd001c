import SecAggPrivacy
import SecAggWire

/// A task's declaration of how its clients turn real vectors into the protocol's integers (SPEC §5.11, "Real
/// vectors"): the real length d, the clipping norm C, the granularity γ and the public rotation seed. The coordinator
/// keeps it with each round so that the released sum can be decoded back into reals; clients must encode with the
/// same values (``encoder(bits:)``, then send z + ``shift(bits:)``).
public struct RealVectorEncoding: Sendable, Hashable, Codable {
    /// d, the length of the clients' real vectors.
    public var dimension: Int
    /// C > 0, the L2 clipping norm (real units).
    public var clip: Double
    /// γ > 0, the value of one integer step (real units).
    public var granularity: Double
    /// The 32-byte public seed of the randomized Hadamard rotation, fixed before clients choose their inputs.
    public var rotationSeed: [UInt8]

    public init(dimension: Int, clip: Double, granularity: Double, rotationSeed: [UInt8]) {
        self.dimension = dimension
        self.clip = clip
        self.granularity = granularity
        self.rotationSeed = rotationSeed
    }

    /// The canonical one-line form a cohort release carries (protocol/FEDERATION.md §2), so that a root adds only
    /// cohorts encoded alike: `real dimension=… clip=… granularity=… rotation_seed=<hex>`, numbers in Swift's
    /// shortest round-trip form.
    public var canonicalDescription: String {
        "real dimension=\(dimension) clip=\(clip) granularity=\(granularity) rotation_seed=\(hexString(rotationSeed))"
    }

    /// The encoder for lanes of `bits` bits (rotation on, KLS21's rounding bias).
    ///
    /// - Throws: ``EncodingError/invalidParameter(name:reason:)`` for a parameter outside its domain, or
    ///   ``EncodingError/invalidRotationSeed(length:)`` unless the seed is 32 bytes.
    public func encoder(bits: Int) throws(EncodingError) -> FloatVectorEncoder {
        guard rotationSeed.count == 32 else { throw .invalidRotationSeed(length: rotationSeed.count) }
        return try FloatVectorEncoder(dimension: dimension, clip: clip, granularity: granularity, bits: bits)
    }

    /// B = ⌊Δ₂⌋: clients send z_i + B, so every entry lies in 0...2B (the task's maximum input).
    public func shift(of encoder: FloatVectorEncoder) -> UInt64 {
        UInt64(encoder.squaredL2SensitivityBound.squareRoot().rounded(.down))
    }

    /// Decodes a released sum of `survivors` clients' vectors (residues modulo 2^bits, as released: with noise they
    /// are read as signed, SPEC §5.10) into the sum of their clipped real vectors (plus noise and rounding error):
    /// subtract survivors·B, lift to signed, multiply by γ, undo the rotation, drop the padding.
    ///
    /// - Throws: ``EncodingError`` if the parameters are invalid or the sum has the wrong length.
    public func decodeSum(_ residues: [UInt64], survivors: Int, bits: Int) throws(EncodingError) -> [Double] {
        let encoder = try encoder(bits: bits)
        let mask: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let offset = shift(of: encoder) &* UInt64(max(0, survivors))
        let lanes = residues.map { ($0 &- offset) & mask }
        return try encoder.decodeSum(lanes, rotationSeed: rotationSeed)
    }

    enum CodingKeys: String, CodingKey {
        case dimension, clip, granularity
        case rotationSeed = "rotation_seed"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dimension = try container.decode(Int.self, forKey: .dimension)
        clip = try container.decode(Double.self, forKey: .clip)
        granularity = try container.decode(Double.self, forKey: .granularity)
        let hex = try container.decode(String.self, forKey: .rotationSeed)
        guard let seed = bytes(fromHex: hex), seed.count == 32 else {
            throw DecodingError.dataCorruptedError(
                forKey: .rotationSeed, in: container, debugDescription: "rotation_seed must be 64 hex digits")
        }
        rotationSeed = seed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dimension, forKey: .dimension)
        try container.encode(clip, forKey: .clip)
        try container.encode(granularity, forKey: .granularity)
        try container.encode(hexString(rotationSeed), forKey: .rotationSeed)
    }
}
