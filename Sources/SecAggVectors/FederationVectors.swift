import SecAggCrypto
import SecAggFederation
import SecAggMath
import SecAggWire

/// Cohort releases (protocol/FEDERATION.md §2): the signed bytes, and what a receiver refuses; client placement (§5).
enum FederationVectors {
    static let cohortRelease = VectorFileKind(
        name: "cohort_release.json",
        description: "Cohort releases of FEDERATION.md 2. `sign`: the shard's Ed25519 key from `seed`, the fields, "
            + "`signed_content` (label(\"secagg/v2/cohort-release\") and every field in order), the deterministic "
            + "Ed25519 `signature` over it and `encoded` = signed_content || signature. `decode`: bytes a receiver "
            + "is given, the largest dimension it accepts, and `error`: none, malformed or bad_signature.",
        inputs: inputs, compute: compute)

    static let shardPlacement = VectorFileKind(
        name: "shard_placement.json",
        description: "Client placement of FEDERATION.md 5: for a client public `key` and the shard `names`, each "
            + "name's `scores` (the first 8 bytes, big-endian, of BLAKE2b-256(\"secagg/v2/placement\" || u8 name "
            + "length || name || key), as decimal strings) and the `shard` with the highest score.",
        inputs: placementInputs, compute: placementCompute)

    private static func placementInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("shard-placement")
        let sets = [["shard-0", "shard-1", "shard-2"], ["shard-0", "shard-1", "shard-2", "shard-3"], ["eu", "us", "ap"], ["only"]]
        var cases: [JSONValue] = []
        for names in sets {
            for _ in 0..<4 {
                let key: Ed25519.SigningKey
                do { key = try Ed25519.SigningKey(seed: SecureBytes(copying: material.bytes(32))) } catch {
                    throw .badField("seed", "\(error)")
                }
                cases.append(.object([
                    "key": .hex(key.verifyingKey.rawRepresentation), "names": .array(names.map { .string($0) }),
                ]))
            }
        }
        return cases
    }

    private static func placementCompute(_ input: JSONValue) throws(VectorError) -> JSONValue {
        guard let key = try? Ed25519.VerifyingKey(rawRepresentation: try input.bytes("key")) else {
            throw .badField("key", "an Ed25519 public key")
        }
        var names: [String] = []
        for name in try input.array("names") {
            guard case let .string(text) = name else { throw .badField("names", "strings") }
            names.append(text)
        }
        guard let shard = ShardPlacement.shard(for: key, among: names) else { throw .badField("names", "at least one") }
        guard case var .object(output) = input else { throw .badField("case", "not an object") }
        // Decimal strings: a 64-bit score does not survive a JSON reader that parses numbers as doubles.
        output["scores"] = .array(names.map { .string(String(ShardPlacement.score(of: key, for: $0))) })
        output["shard"] = .string(shard)
        return .object(output)
    }

    private static func inputs() throws(VectorError) -> [JSONValue] {
        var material = Material("cohort-release")
        func sign(
            bits: Int, lift: CohortRelease.Lift, encoding: String, survivors: UInt64, noise: CohortRelease.Noise.Kind,
            variance: (UInt64, UInt64), lanes: [UInt64]
        ) -> JSONValue {
            .object([
                "kind": .string("sign"), "seed": .hex(material.bytes(32)), "global_round": .hex(material.bytes(16)),
                "task": .string("histogram"), "round_id": .hex(material.bytes(16)), "bits": .uint(bits),
                "lift": .uint(lift.rawValue), "encoding": .string(encoding), "survivors": .uint(survivors),
                "noise_kind": .uint(noise.rawValue), "variance_numerator": .uint(variance.0),
                "variance_denominator": .uint(variance.1), "lanes": .uints(lanes),
            ])
        }
        var cases = [
            sign(bits: 16, lift: .unsigned, encoding: "integer", survivors: 1_000, noise: .none, variance: (0, 1),
                 lanes: [0, 1, 65_535, 1_000]),
            sign(bits: 40, lift: .signed, encoding: "integer", survivors: 950, noise: .central, variance: (250_001, 4),
                 lanes: [1, (1 << 40) - 1, 1 << 39]),
            sign(bits: 64, lift: .signed, encoding: "real clip=1 granularity=0.001 rotation_seed=0", survivors: 480,
                 noise: .distributed, variance: (9, 2), lanes: [UInt64.max, 0]),
        ]
        // The first case's bytes, broken in the ways a receiver must notice.
        let first = try compute(cases[0])
        let encoded = try first.bytes("encoded")
        func decode(_ bytes: [UInt8], maximumDimension: Int = 4) -> JSONValue {
            .object(["kind": .string("decode"), "encoded": .hex(bytes), "maximum_dimension": .uint(maximumDimension)])
        }
        var flippedSum = encoded
        flippedSum[encoded.count - 64 - 4] ^= 1
        var flippedSignature = encoded
        flippedSignature[encoded.count - 1] ^= 1
        var wrongLabel = encoded
        wrongLabel[1] ^= 0x20
        var laneOutOfRange = encoded
        laneOutOfRange[encoded.count - 64 - 2] = 1
        cases += [
            decode(encoded), decode(flippedSum), decode(flippedSignature), decode(wrongLabel), decode(laneOutOfRange),
            decode(Array(encoded.dropLast())), decode(encoded + [0]), decode(encoded, maximumDimension: 3),
        ]
        return cases
    }

    private static func compute(_ input: JSONValue) throws(VectorError) -> JSONValue {
        switch try input.string("kind") {
        case "sign": return try computeSign(input)
        case "decode": return try computeDecode(input)
        case let other: throw .badField("kind", "unknown kind \(other)")
        }
    }

    private static func computeSign(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let key: Ed25519.SigningKey
        do { key = try Ed25519.SigningKey(seed: SecureBytes(copying: try input.bytes("seed"))) } catch {
            throw .badField("seed", "\(error)")
        }
        guard let globalRound = GlobalRoundID(bytes: try input.bytes("global_round")) else {
            throw .badField("global_round", "16 bytes")
        }
        guard let roundID = RoundID(bytes: try input.bytes("round_id")) else { throw .badField("round_id", "16 bytes") }
        guard let lift = CohortRelease.Lift(rawValue: UInt8(clamping: try input.int("lift"))) else {
            throw .badField("lift", "0 or 1")
        }
        guard let kind = CohortRelease.Noise.Kind(rawValue: UInt8(clamping: try input.int("noise_kind"))) else {
            throw .badField("noise_kind", "0, 1 or 2")
        }
        let sum: ModularVector
        do { sum = try ModularVector(values: try input.uint64s("lanes"), bits: try input.int("bits")) } catch {
            throw .badField("lanes", "\(error)")
        }
        let release = CohortRelease(
            shard: key.verifyingKey, globalRound: globalRound, taskName: try input.string("task"), roundID: roundID,
            lift: lift, encoding: try input.string("encoding"), survivors: try input.uint32("survivors"),
            noise: CohortRelease.Noise(
                kind: kind, varianceNumerator: try input.uint64("variance_numerator"),
                varianceDenominator: try input.uint64("variance_denominator")),
            sum: sum)
        let signed: SignedCohortRelease
        do { signed = try release.signed(with: key) } catch { throw .badField("release", "\(error)") }
        // The parser must give back what was signed.
        let parsed = try? SignedCohortRelease(decoding: signed.encoded, maximumDimension: sum.count)
        try require(parsed == signed, "a signed cohort release parses back to itself")
        guard case var .object(output) = input else { throw .badField("case", "not an object") }
        output["shard_key"] = .hex(key.verifyingKey.rawRepresentation)
        output["signed_content"] = .hex(release.signedContent)
        output["signature"] = .hex(signed.signature.rawRepresentation)
        output["encoded"] = .hex(signed.encoded)
        return .object(output)
    }

    private static func computeDecode(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let (bytes, maximumDimension) = (try input.bytes("encoded"), try input.int("maximum_dimension"))
        let outcome: String
        do {
            _ = try SignedCohortRelease(decoding: bytes, maximumDimension: maximumDimension)
            outcome = "none"
        } catch .badSignature {
            outcome = "bad_signature"
        } catch {
            outcome = "malformed"
        }
        guard case var .object(output) = input else { throw .badField("case", "not an object") }
        output["error"] = .string(outcome)
        return .object(output)
    }
}
