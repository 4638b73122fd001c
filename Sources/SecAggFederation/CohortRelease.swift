import SecAggCrypto
import SecAggMath
import SecAggWire

extension GlobalRoundID {
    /// A fresh identifier from `random` (the root's CSPRNG).
    public init(using random: inout some RandomSource) {
        self.init(bytes: random.bytes(16))!
    }
}

/// What one shard released in a global round — the statement it signs with its identity key (FEDERATION.md §2).
///
/// The root adds cohort sums only from releases whose signature verifies under the key it pinned for that shard, for
/// the global round it started, with the parameters it defined; a shard that aborted sends no release at all.
public struct CohortRelease: Sendable, Equatable {
    /// How the shard's residues map to integers before cohorts are added.
    public enum Lift: UInt8, Sendable, Hashable, CaseIterable {
        /// Residues are the integers (plain non-negative inputs: the sum is below 2^bits).
        case unsigned = 0
        /// Residues are centred: r ≥ 2^(bits−1) means r − 2^bits (noisy or real-encoded sums).
        case signed = 1
    }

    /// Who added differential-privacy noise to the cohort's sum, and its exact variance.
    public struct Noise: Sendable, Hashable {
        /// Nobody, the shard's coordinator (central) or each surviving client (distributed).
        public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
            case none = 0
            case central = 1
            case distributed = 2
        }

        public var kind: Kind
        /// The variance of each sample as numerator / denominator (the sampler's exact fraction); 0/1 without noise.
        public var varianceNumerator: UInt64
        public var varianceDenominator: UInt64

        /// No noise.
        public static let none = Noise(kind: .none, varianceNumerator: 0, varianceDenominator: 1)

        public init(kind: Kind, varianceNumerator: UInt64, varianceDenominator: UInt64) {
            self.kind = kind
            self.varianceNumerator = varianceNumerator
            self.varianceDenominator = varianceDenominator
        }
    }

    /// The shard's identity key: the signer.
    public var shard: Ed25519.VerifyingKey
    public var globalRound: GlobalRoundID
    /// The task the root defined, by name.
    public var taskName: String
    /// The shard's own round, in its store and audit log.
    public var roundID: RoundID
    /// How the residues become integers.
    public var lift: Lift
    /// The task's input encoding in the canonical form the root defined (e.g. `integer` or
    /// `real clip=… granularity=… rotation_seed=…`): cohorts are added only if it is the same everywhere.
    public var encoding: String
    /// Clients whose inputs are in the sum.
    public var survivors: UInt32
    public var noise: Noise
    /// The released sum, modulo 2^bits; its count is the task's dimension.
    public var sum: ModularVector

    public init(
        shard: Ed25519.VerifyingKey, globalRound: GlobalRoundID, taskName: String, roundID: RoundID, lift: Lift,
        encoding: String, survivors: UInt32, noise: Noise, sum: ModularVector
    ) {
        self.shard = shard
        self.globalRound = globalRound
        self.taskName = taskName
        self.roundID = roundID
        self.lift = lift
        self.encoding = encoding
        self.survivors = survivors
        self.noise = noise
        self.sum = sum
    }

    /// The signature's domain-separation label.
    public static let label = "secagg/v2/cohort-release"
    /// Longest task name and encoding description, in UTF-8 bytes.
    public static let maximumTaskNameBytes = 255
    public static let maximumEncodingBytes = 1_024

    /// The bytes the shard signs (FEDERATION.md §2): the label, then every field in order.
    public var signedContent: [UInt8] {
        var writer = WireWriter(capacity: 128 + sum.count * sum.laneByteCount)
        writer.write(UInt8(Self.label.utf8.count))
        writer.writeFixed(Array(Self.label.utf8))
        writer.writeFixed(shard.rawRepresentation)
        writer.writeFixed(globalRound.bytes)
        writer.writeOpaque(Array(taskName.utf8), prefixBytes: 1)
        roundID.encode(into: &writer)
        writer.write(UInt32(sum.count))
        writer.write(UInt8(sum.bits))
        writer.write(lift.rawValue)
        writer.writeOpaque(Array(encoding.utf8), prefixBytes: 2)
        writer.write(survivors)
        writer.write(noise.kind.rawValue)
        writer.write(noise.varianceNumerator)
        writer.write(noise.varianceDenominator)
        writer.writeFixed(sum.encoded())
        return writer.bytes
    }

    /// Signs the release with the shard's identity key.
    ///
    /// - Throws: ``CohortReleaseError/keyMismatch`` if `key` is not ``shard``'s;
    ///   ``CohortReleaseError/malformed(_:)`` for a task name or encoding over its limit or empty.
    public func signed(with key: Ed25519.SigningKey) throws(CohortReleaseError) -> SignedCohortRelease {
        guard key.verifyingKey == shard else { throw .keyMismatch }
        try validate()
        return SignedCohortRelease(release: self, signature: key.signature(for: signedContent))
    }

    /// The field limits the decoder enforces, checked before signing too.
    func validate() throws(CohortReleaseError) {
        let name = taskName.utf8.count
        guard name >= 1, name <= Self.maximumTaskNameBytes else {
            throw .malformed("task name of \(name) bytes (1...\(Self.maximumTaskNameBytes))")
        }
        guard encoding.utf8.count <= Self.maximumEncodingBytes else {
            throw .malformed("encoding description of \(encoding.utf8.count) bytes (at most \(Self.maximumEncodingBytes))")
        }
        guard (noise.kind == .none) == (noise.varianceNumerator == 0), noise.varianceDenominator > 0 else {
            throw .malformed("noise \(noise.kind) with variance \(noise.varianceNumerator)/\(noise.varianceDenominator)")
        }
    }
}

/// A cohort release and the shard's Ed25519 signature over its ``CohortRelease/signedContent``: what a shard hands
/// the root (FEDERATION.md §2).
public struct SignedCohortRelease: Sendable, Equatable {
    public let release: CohortRelease
    public let signature: Ed25519.Signature

    init(release: CohortRelease, signature: Ed25519.Signature) {
        self.release = release
        self.signature = signature
    }

    /// The transferable form: the signed content followed by the 64-byte signature.
    public var encoded: [UInt8] { release.signedContent + signature.rawRepresentation }

    /// Parses a release received from a shard and checks its signature under the key it names. Whether that key is
    /// the shard's pinned key, and the round and task the root expects, is the combiner's question.
    ///
    /// - Parameter maximumDimension: The most entries accepted (the root's task dimension bounds it).
    /// - Throws: ``CohortReleaseError/malformed(_:)`` for bytes that are not a well-formed release (wrong label,
    ///   bad lengths, values out of range, trailing bytes, a dimension over `maximumDimension`);
    ///   ``CohortReleaseError/badSignature`` when the signature does not verify.
    public init(decoding bytes: [UInt8], maximumDimension: Int) throws(CohortReleaseError) {
        do {
            var reader = WireReader(bytes)
            let labelLength = Int(try reader.readUInt8())
            guard try reader.readFixed(labelLength) == Array(CohortRelease.label.utf8) else {
                throw CohortReleaseError.malformed("not a cohort release (wrong label)")
            }
            guard let shard = try? Ed25519.VerifyingKey(rawRepresentation: try reader.readFixed(32)) else {
                throw CohortReleaseError.malformed("shard key")
            }
            guard let globalRound = GlobalRoundID(bytes: try reader.readFixed(16)) else {
                throw CohortReleaseError.malformed("global round")
            }
            let nameBytes = try reader.readOpaque(
                prefixBytes: 1, maximum: CohortRelease.maximumTaskNameBytes, field: "task name")
            guard let taskName = String(validating: nameBytes, as: UTF8.self) else {
                throw CohortReleaseError.malformed("task name is not UTF-8")
            }
            let roundID = try RoundID(from: &reader)
            let dimension = Int(try reader.readUInt32())
            guard dimension >= 1, dimension <= maximumDimension else {
                throw CohortReleaseError.malformed("dimension \(dimension) (1...\(maximumDimension))")
            }
            let bits = Int(try reader.readUInt8())
            guard let lift = CohortRelease.Lift(rawValue: try reader.readUInt8()) else {
                throw CohortReleaseError.malformed("unknown lift")
            }
            let encodingBytes = try reader.readOpaque(
                prefixBytes: 2, maximum: CohortRelease.maximumEncodingBytes, field: "encoding")
            guard let encoding = String(validating: encodingBytes, as: UTF8.self) else {
                throw CohortReleaseError.malformed("encoding is not UTF-8")
            }
            let survivors = try reader.readUInt32()
            guard let kind = CohortRelease.Noise.Kind(rawValue: try reader.readUInt8()) else {
                throw CohortReleaseError.malformed("unknown noise kind")
            }
            let noise = CohortRelease.Noise(
                kind: kind, varianceNumerator: try reader.readUInt64(), varianceDenominator: try reader.readUInt64())
            guard (1...64).contains(bits) else { throw CohortReleaseError.malformed("bits \(bits) (1...64)") }
            let laneBytes = ModularVector.laneByteCount(bits: bits)
            let sum: ModularVector
            do {
                sum = try ModularVector(
                    decoding: try reader.readFixed(dimension * laneBytes), count: dimension, bits: bits)
            } catch let error as VectorError {
                throw CohortReleaseError.malformed("sum: \(error)")
            }
            let signature = try Ed25519.Signature(rawRepresentation: try reader.readFixed(Ed25519.signatureByteCount))
            try reader.finish()
            let release = CohortRelease(
                shard: shard, globalRound: globalRound, taskName: taskName, roundID: roundID, lift: lift,
                encoding: encoding, survivors: survivors, noise: noise, sum: sum)
            try release.validate()
            guard shard.isValidSignature(signature, for: release.signedContent) else { throw CohortReleaseError.badSignature }
            self.init(release: release, signature: signature)
        } catch let error as CohortReleaseError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }
}

/// Why a cohort release was not accepted as such.
public enum CohortReleaseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a well-formed release.
    case malformed(String)
    /// The signature does not verify under the key the release names.
    case badSignature
    /// Signing with a key other than the release's shard key.
    case keyMismatch

    public var description: String {
        switch self {
        case .malformed(let detail): return "malformed cohort release: \(detail)"
        case .badSignature: return "the cohort release's signature does not verify"
        case .keyMismatch: return "the signing key is not the release's shard key"
        }
    }
}
