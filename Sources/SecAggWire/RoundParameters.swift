/// A participant's 1-based index within a round. Index 0 is never valid (it is Shamir's secret point).
public typealias ParticipantIndex = UInt32

/// Upper bounds that every decoder enforces before allocating (SPEC §3.2 "Limits").
public enum WireLimits {
    /// The protocol version this implementation speaks.
    public static let protocolVersion: UInt16 = 2
    /// Most participants in one round.
    public static let maximumParticipants = 1_000_000
    /// Longest input vector.
    public static let maximumDimension = 1 << 28
    /// Longest task name, in UTF-8 bytes.
    public static let maximumTaskNameBytes = 255
    /// Longest encrypted share bundle.
    public static let maximumCiphertextBytes = 1024
    /// Longest encoded Shamir share.
    public static let maximumShareBytes = 512
    /// Longest human-readable abort reason, in UTF-8 bytes.
    public static let maximumReasonBytes = 1024
    /// Size of X25519 and Ed25519 public keys.
    public static let publicKeyBytes = 32
    /// Size of an Ed25519 signature.
    public static let signatureBytes = 64
    /// Size of round identifiers.
    public static let roundIDBytes = 16
    /// Size of the coordinator's round nonce, session ids and commitments.
    public static let digestBytes = 32
}

/// Identifies one round of one task; chosen by the coordinator, unique per round.
public struct RoundID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 identifier bytes.
    public let bytes: [UInt8]

    /// Wraps 16 bytes; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == WireLimits.roundIDBytes else { return nil }
        self.bytes = bytes
    }

    /// Lowercase hex.
    public var description: String { hexString(bytes) }
}

extension RoundID: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) { writer.writeFixed(bytes) }

    public init(from reader: inout WireReader) throws(WireError) {
        bytes = try reader.readFixed(WireLimits.roundIDBytes)
    }
}

/// One global round across shards (protocol/FEDERATION.md): 16 bytes the root draws at random and every shard binds
/// into its round and its cohort release, so a release cannot be replayed into another global round.
public struct GlobalRoundID: Hashable, Sendable, CustomStringConvertible {
    /// The 16 identifier bytes.
    public let bytes: [UInt8]

    /// Wraps 16 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses 32 hex digits; nil for anything else.
    public init?(hex: String) {
        guard let bytes = SecAggWire.bytes(fromHex: hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// Lowercase hex.
    public var description: String { hexString(bytes) }
}

extension GlobalRoundID: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) { writer.writeFixed(bytes) }

    public init(from reader: inout WireReader) throws(WireError) {
        bytes = try reader.readFixed(16)
    }
}

/// How participants are connected by pairwise masks.
public enum GraphShape: Sendable, Hashable {
    /// Every pair of participants shares a mask (classic SecAgg, Bonawitz et al.).
    case complete
    /// A randomly labelled Harary graph of the given degree (SecAgg+, Bell et al.).
    case harary(degree: UInt32)
}

/// The adversary the round defends against; it decides the thresholds and whether a consistency check runs.
public enum RoundMode: UInt8, Sendable, Hashable, CaseIterable {
    /// Coordinator and clients follow the protocol but try to learn from what they see.
    case honestButCurious = 0
    /// The coordinator may deviate (e.g. lie about who dropped); clients sign the survivor set (ConsistencyCheck).
    case active = 1
}

/// A noise variance as an exact fraction (SPEC §5.10): the discrete Gaussian N_Z(0, numerator/denominator).
public struct NoiseVariance: Sendable, Hashable {
    public var numerator: UInt64
    public var denominator: UInt64

    public init(numerator: UInt64, denominator: UInt64) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// The smallest multiple of 1/65,536 at or above `value`: a variance given as a decimal (a client's noise
    /// floor on a command line or through the C ABI) made exact, never below what was asked.
    ///
    /// - Returns: nil unless `value` is finite, positive and at most 2^40.
    public init?(roundingUp value: Double) {
        guard value.isFinite, value > 0, value <= 0x1p40 else { return nil }
        self.init(numerator: UInt64((value * 65_536).rounded(.up)), denominator: 65_536)
    }

    /// The variance as a floating-point number (for reports and bounds, never for sampling).
    public var value: Double { Double(numerator) / Double(denominator) }
}

/// Who adds differential-privacy noise to the released sum, and how much (SPEC §5.10).
public enum NoiseParameters: Sendable, Hashable {
    /// No noise: the exact sum is released.
    case none
    /// Each client adds N_Z(0, localVariance) to every entry before masking; the coordinator never sees a
    /// noise-free sum.
    case distributed(localVariance: NoiseVariance)
    /// The coordinator adds N_Z(0, variance) to every entry after unmasking.
    case central(variance: NoiseVariance)
}

/// Everything a client must agree to before taking part in a round, sent in ``AdvertiseKeysRequest``.
///
/// Its canonical encoding is hashed into the round digest, which every signature and the session id bind.
public struct RoundParameters: Sendable, Hashable {
    /// The round's identifier.
    public var roundID: RoundID
    /// The task this round aggregates for (UTF-8, 1...255 bytes).
    public var taskName: String
    /// Number of entries in each input vector (1...2^28).
    public var dimension: UInt32
    /// Arithmetic is modulo 2^bits (1...64).
    public var bits: UInt8
    /// Every input entry lies in 0...maximumInput; chosen so that the sum of all invited inputs cannot wrap.
    public var maximumInput: UInt64
    /// Complete or Harary neighbour graph.
    public var graph: GraphShape
    /// Shamir threshold t: shares needed to reconstruct a secret; also the fewest neighbours a client needs.
    public var threshold: UInt32
    /// Fewest surviving clients in any phase for the round to continue (at least `threshold`).
    public var minimumSurvivors: UInt32
    /// Threat model of the round.
    public var mode: RoundMode
    /// Number of invited participants; indices run 1...invitedCount.
    public var invitedCount: UInt32
    /// 32 bytes of fresh coordinator randomness, making the round digest unique even for repeated parameters.
    public var nonce: [UInt8]
    /// Differential-privacy noise of the released sum.
    public var noise: NoiseParameters

    /// Creates parameters; ``RoundParameters/validate()`` checks them.
    public init(
        roundID: RoundID, taskName: String, dimension: UInt32, bits: UInt8, maximumInput: UInt64,
        graph: GraphShape, threshold: UInt32, minimumSurvivors: UInt32, mode: RoundMode,
        invitedCount: UInt32, nonce: [UInt8], noise: NoiseParameters = .none
    ) {
        self.roundID = roundID
        self.taskName = taskName
        self.dimension = dimension
        self.bits = bits
        self.maximumInput = maximumInput
        self.graph = graph
        self.threshold = threshold
        self.minimumSurvivors = minimumSurvivors
        self.mode = mode
        self.invitedCount = invitedCount
        self.nonce = nonce
        self.noise = noise
    }
}

/// Why a set of round parameters is unusable.
public enum ParameterValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidField(field: String, reason: String)
    /// invitedCount × maximumInput does not fit below 2^bits, so the sum could wrap silently.
    case sumMayOverflow(invitedCount: UInt32, maximumInput: UInt64, bits: UInt8)
    /// With noise, the sum plus 8 standard deviations of noise does not fit below 2^(bits−1).
    case noisySumMayOverflow(requiredBits: Int, bits: UInt8)

    public var description: String {
        switch self {
        case let .invalidField(field, reason):
            return "invalid round parameter \(field): \(reason)"
        case let .sumMayOverflow(count, maximum, bits):
            return "the sum of \(count) inputs of up to \(maximum) each may exceed 2^\(bits) - 1 and wrap; "
                + "raise bits, lower the per-entry maximum, or invite fewer clients"
        case let .noisySumMayOverflow(required, bits):
            return "the noisy sum needs \(required) bits (inputs plus 8 standard deviations of noise, signed) but the "
                + "round has \(bits); raise bits, lower the per-entry maximum or the noise, or invite fewer clients"
        }
    }
}

extension RoundParameters {
    /// The largest sum of all invited inputs, or nil if it does not fit in 64 bits.
    public var maximumSum: UInt64? {
        let (product, overflow) = UInt64(invitedCount).multipliedReportingOverflow(by: maximumInput)
        return overflow ? nil : product
    }

    /// Checks internal consistency, including that the exact sum can never wrap modulo 2^bits.
    ///
    /// - Throws: ``ParameterValidationError``.
    public func validate() throws(ParameterValidationError) {
        let nameBytes = taskName.utf8.count
        guard (1...WireLimits.maximumTaskNameBytes).contains(nameBytes) else {
            throw .invalidField(field: "taskName", reason: "must be 1...255 UTF-8 bytes")
        }
        guard dimension >= 1, Int(dimension) <= WireLimits.maximumDimension else {
            throw .invalidField(field: "dimension", reason: "must be 1...\(WireLimits.maximumDimension)")
        }
        guard (1...64).contains(bits) else {
            throw .invalidField(field: "bits", reason: "must be 1...64")
        }
        guard invitedCount >= 2, Int(invitedCount) <= WireLimits.maximumParticipants else {
            throw .invalidField(field: "invitedCount", reason: "must be 2...\(WireLimits.maximumParticipants)")
        }
        guard threshold >= 1, threshold <= invitedCount - 1 else {
            throw .invalidField(field: "threshold", reason: "must be 1...invitedCount-1 (\(invitedCount - 1))")
        }
        // With only t clients each would have t − 1 neighbours, fewer than the t share holders it needs.
        guard minimumSurvivors > threshold, minimumSurvivors <= invitedCount else {
            throw .invalidField(field: "minimumSurvivors", reason: "must be threshold+1...invitedCount")
        }
        if case let .harary(degree) = graph {
            guard degree >= 1 else { throw .invalidField(field: "degree", reason: "must be at least 1") }
            guard threshold <= degree else {
                throw .invalidField(field: "threshold", reason: "must not exceed the degree \(degree)")
            }
        }
        if mode == .active {
            // Active security needs an honest majority among the share holders (SPEC §2.3). A Harary graph of odd
            // degree k on an odd number of nodes gives one node k + 1 neighbours: count that node.
            let holders = UInt64(maximumNeighbourCount)
            guard UInt64(threshold) * 2 > holders else {
                throw .invalidField(field: "threshold", reason: "active mode needs threshold > neighbours/2 (\(holders))")
            }
        }
        guard nonce.count == WireLimits.digestBytes else {
            throw .invalidField(field: "nonce", reason: "must be 32 bytes")
        }
        let limit: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        guard let sum = maximumSum, sum <= limit else {
            throw .sumMayOverflow(invitedCount: invitedCount, maximumInput: maximumInput, bits: bits)
        }
        try validateNoise(maximumSum: sum)
    }

    /// Checks the noise fraction and that the noisy sum, read as a signed number, cannot wrap except with
    /// negligible probability: maximumSum + ⌈8·σ_total⌉ < 2^(bits−1), where σ_total² is the variance of all the noise
    /// in the sum (invitedCount·localVariance, or the central variance): ``NoisySumModulus``, the rule the planner
    /// uses too. The per-entry wrap probability is then below 2·e^(−32).
    private func validateNoise(maximumSum: UInt64) throws(ParameterValidationError) {
        let variance: NoiseVariance
        let totalVariance: Double
        switch noise {
        case .none:
            return
        case let .distributed(local):
            variance = local
            totalVariance = Double(invitedCount) * local.value
        case let .central(central):
            variance = central
            totalVariance = central.value
        }
        let limit = UInt64(1) << 62
        guard variance.denominator > 0, variance.numerator > 0, variance.numerator <= limit,
              variance.denominator <= limit else {
            throw .invalidField(field: "noise", reason: "the variance must be a positive fraction with parts up to 2^62")
        }
        let required = NoisySumModulus.requiredBits(
            signalBound: maximumSum, noiseStandardDeviation: totalVariance.squareRoot())
        guard required <= Int(bits) else { throw .noisySumMayOverflow(requiredBits: required, bits: bits) }
    }

    /// The number of neighbours each client has (at most invitedCount − 1).
    public var neighbourCount: UInt32 {
        switch graph {
        case .complete: return others
        case let .harary(degree): return min(degree, others)
        }
    }

    /// The most neighbours any client can have: the degree, plus one for odd degrees (one node of a Harary graph
    /// of odd degree on an odd number of nodes has an extra edge); at most invitedCount − 1. Computed without
    /// overflow for any degree a peer may send (a degree of 2^32 − 1 once trapped here, found by FuzzClient).
    public var maximumNeighbourCount: UInt32 {
        switch graph {
        case .complete: return others
        case let .harary(degree): return degree >= others ? others : degree + degree % 2
        }
    }

    /// invitedCount − 1, or 0 for an (invalid) empty round.
    private var others: UInt32 { invitedCount == 0 ? 0 : invitedCount - 1 }
}

extension RoundParameters: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        roundID.encode(into: &writer)
        writer.writeOpaque(Array(taskName.utf8), prefixBytes: 1)
        writer.write(dimension)
        writer.write(bits)
        writer.write(maximumInput)
        switch graph {
        case .complete:
            writer.write(UInt8(0))
            writer.write(UInt32(0))
        case let .harary(degree):
            writer.write(UInt8(1))
            writer.write(degree)
        }
        writer.write(threshold)
        writer.write(minimumSurvivors)
        writer.write(mode.rawValue)
        writer.write(invitedCount)
        writer.writeFixed(nonce)
        switch noise {
        case .none:
            writer.write(UInt8(0))
            writer.write(UInt64(0))
            writer.write(UInt64(0))
        case let .distributed(variance):
            writer.write(UInt8(1))
            writer.write(variance.numerator)
            writer.write(variance.denominator)
        case let .central(variance):
            writer.write(UInt8(2))
            writer.write(variance.numerator)
            writer.write(variance.denominator)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        roundID = try RoundID(from: &reader)
        let name = try reader.readOpaque(prefixBytes: 1, maximum: WireLimits.maximumTaskNameBytes, field: "taskName")
        guard let decodedName = String(validating: name, as: UTF8.self) else {
            throw .invalidValue(field: "taskName", reason: "not UTF-8")
        }
        taskName = decodedName
        dimension = try reader.readUInt32()
        bits = try reader.readUInt8()
        maximumInput = try reader.readUInt64()
        let graphCode = try reader.readUInt8()
        let degree = try reader.readUInt32()
        switch graphCode {
        case 0:
            guard degree == 0 else { throw .invalidValue(field: "degree", reason: "must be 0 for a complete graph") }
            graph = .complete
        case 1:
            graph = .harary(degree: degree)
        default:
            throw .invalidValue(field: "graph", reason: "unknown graph code \(graphCode)")
        }
        threshold = try reader.readUInt32()
        minimumSurvivors = try reader.readUInt32()
        let modeCode = try reader.readUInt8()
        guard let decodedMode = RoundMode(rawValue: modeCode) else {
            throw .invalidValue(field: "mode", reason: "unknown mode code \(modeCode)")
        }
        mode = decodedMode
        invitedCount = try reader.readUInt32()
        nonce = try reader.readFixed(WireLimits.digestBytes)
        let noiseCode = try reader.readUInt8()
        let numerator = try reader.readUInt64()
        let denominator = try reader.readUInt64()
        switch noiseCode {
        case 0:
            guard numerator == 0, denominator == 0 else {
                throw .invalidValue(field: "noise", reason: "the variance must be 0/0 without noise")
            }
            noise = .none
        case 1:
            noise = .distributed(localVariance: NoiseVariance(numerator: numerator, denominator: denominator))
        case 2:
            noise = .central(variance: NoiseVariance(numerator: numerator, denominator: denominator))
        default:
            throw .invalidValue(field: "noise", reason: "unknown noise code \(noiseCode)")
        }
    }
}
