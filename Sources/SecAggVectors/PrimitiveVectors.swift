import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggWire

/// Vectors for the building blocks: derivations, PRG, Shamir, share encryption, graph and parameters.
enum PrimitiveVectors {
    // MARK: KDF and every labelled input (SPEC 5)

    static let kdf = VectorFileKind(
        name: "kdf.json",
        description: "Every labelled derivation of SPEC 5: H and KDF outputs, signature inputs and signatures. "
            + "`label_bytes` is label(L); `hash_input` / `kdf_input` / `signed_input` are the exact bytes hashed, "
            + "keyed-hashed or signed. The Merkle leaf labels have a case for each form: an advertisement present "
            + "(`present` true, its identity, keys and signature) or absent, and a survivor status of 1 or 0.",
        inputs: kdfInputs, compute: computeKDF)

    private static func kdfInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("kdf")
        let parameters = MessageVectors.sampleParameters(graph: .harary(degree: 4), mode: .honestButCurious)
        let digest = Derivation.roundDigest(parameters)
        let session = material.bytes(32)
        return [
            .object(["label": .string(Derivation.roundDigestLabel), "round_parameters": .hex(parameters.encoded)]),
            .object([
                "label": .string(Derivation.advertisementLabel), "identity_seed": .hex(material.bytes(32)),
                "round_digest": .hex(digest), "index": .uint(3), "encryption_key": .hex(material.bytes(32)),
                "masking_key": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.endorsementLabel), "authority_seed": .hex(material.bytes(32)),
                "identity_key": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.sessionLabel), "round_digest": .hex(digest), "advertised_count": .uint(6),
                "u1_root": .hex(material.bytes(32)),
            ]),
            .object(["label": .string(Derivation.graphLabel), "session_id": .hex(session)]),
            .object([
                "label": .string(Derivation.shareEncryptionLabel), "session_id": .hex(session), "sender": .uint(2),
                "recipient": .uint(5), "sender_private_key": .hex(material.bytes(32)),
                "recipient_private_key": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.selfMaskLabel), "session_id": .hex(session), "owner": .uint(7),
                "self_mask_seed": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.selfMaskCommitmentLabel), "session_id": .hex(session), "owner": .uint(7),
                "self_mask_seed": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.pairwiseMaskLabel), "session_id": .hex(session), "first": .uint(6),
                "second": .uint(3), "first_private_key": .hex(material.bytes(32)),
                "second_private_key": .hex(material.bytes(32)),
            ]),
            .object([
                "label": .string(Derivation.consistencyLabel), "session_id": .hex(session),
                "identity_seed": .hex(material.bytes(32)), "survivor_count": .uint(5), "survivor_root": .hex(material.bytes(32)),
            ]),
            .object(["label": .string(Derivation.merkleNodeLabel), "left": .hex(material.bytes(32)), "right": .hex(material.bytes(32))]),
            .object([
                "label": .string(Derivation.advertisementLeafLabel), "index": .uint(4), "present": .bool(true),
                "identity_key": .hex(material.bytes(32)), "encryption_key": .hex(material.bytes(32)),
                "masking_key": .hex(material.bytes(32)), "signature": .hex(material.bytes(64)),
            ]),
            .object(["label": .string(Derivation.advertisementLeafLabel), "index": .uint(5), "present": .bool(false)]),
            .object(["label": .string(Derivation.survivorLeafLabel), "index": .uint(7), "status": .uint(1)]),
            .object(["label": .string(Derivation.survivorLeafLabel), "index": .uint(8), "status": .uint(0)]),
        ]
    }

    private static func computeKDF(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let label = try input.string("label")
        var out: [String: JSONValue] = ["label": .string(label), "label_bytes": .hex(Spec.label(label))]
        switch label {
        case Derivation.roundDigestLabel:
            let encoded = try input.bytes("round_parameters")
            let parameters: RoundParameters
            do { parameters = try RoundParameters(decoding: encoded) } catch {
                throw .badField("round_parameters", "does not decode: \(error)")
            }
            let hashed = Spec.label(label) + encoded
            let digest = Derivation.roundDigest(parameters)
            try require(digest == Blake2b.hash(hashed), "round digest")
            out["round_parameters"] = .hex(encoded)
            out["hash_input"] = .hex(hashed)
            out["output"] = .hex(digest)
        case Derivation.advertisementLabel:
            let key = try Spec.ed25519(try input.bytes("identity_seed"), field: "identity_seed")
            let (digest, index) = (try input.bytes("round_digest"), try input.uint32("index"))
            let (encryption, masking) = (try input.bytes("encryption_key"), try input.bytes("masking_key"))
            let signed = Derivation.advertisementMessage(
                roundDigest: digest, index: index, encryptionKey: encryption, maskingKey: masking)
            try require(signed == Spec.label(label) + digest + Spec.u32(index) + encryption + masking, "advertisement input")
            for (field, value) in [("identity_seed", input.optionalMember("identity_seed")), ("round_digest", input.optionalMember("round_digest")),
                                   ("index", input.optionalMember("index")), ("encryption_key", input.optionalMember("encryption_key")),
                                   ("masking_key", input.optionalMember("masking_key"))] {
                out[field] = value
            }
            out["identity_key"] = .hex(key.verifyingKey.rawRepresentation)
            out["signed_input"] = .hex(signed)
            out["signature"] = .hex(key.signature(for: signed).rawRepresentation)
        case Derivation.endorsementLabel:
            let authority = try Spec.ed25519(try input.bytes("authority_seed"), field: "authority_seed")
            let identity = try input.bytes("identity_key")
            let signed = Derivation.endorsementMessage(identityKey: identity)
            try require(signed == Spec.label(label) + identity, "endorsement input")
            out["authority_seed"] = try input.member("authority_seed")
            out["identity_key"] = .hex(identity)
            out["authority_key"] = .hex(authority.verifyingKey.rawRepresentation)
            out["signed_input"] = .hex(signed)
            out["signature"] = .hex(authority.signature(for: signed).rawRepresentation)
        case Derivation.sessionLabel:
            let digest = try input.bytes("round_digest")
            let count = try input.uint32("advertised_count")
            let root = try input.bytes("u1_root")
            let hashed = Spec.sessionInput(roundDigest: digest, advertisedCount: count, u1Root: root)
            let session = Derivation.sessionID(roundDigest: digest, advertisedCount: count, advertisementRoot: root)
            try require(session == Blake2b.hash(hashed)
                        && session == Spec.sessionID(roundDigest: digest, advertisedCount: count, u1Root: root), "session id")
            out["round_digest"] = .hex(digest)
            out["advertised_count"] = .uint(count)
            out["u1_root"] = .hex(root)
            out["hash_input"] = .hex(hashed)
            out["output"] = .hex(session)
        case Derivation.graphLabel:
            let session = try input.bytes("session_id")
            let seed = Derivation.graphSeed(sessionID: session)
            try require(seed == keyedHash(key: session, label: label, context: []), "graph seed")
            out["session_id"] = .hex(session)
            out["kdf_key"] = .hex(session)
            out["kdf_input"] = .hex(Spec.label(label))
            out["output"] = .hex(seed)
        case Derivation.shareEncryptionLabel:
            let session = try input.bytes("session_id")
            let (sender, recipient) = (try input.uint32("sender"), try input.uint32("recipient"))
            let senderKey = try Spec.x25519(try input.bytes("sender_private_key"), field: "sender_private_key")
            let recipientKey = try Spec.x25519(try input.bytes("recipient_private_key"), field: "recipient_private_key")
            let agreement = try Spec.agreement(senderKey, recipientKey.publicKey)
            let other = try Spec.agreement(recipientKey, senderKey.publicKey)
            try require(Spec.bytes(of: agreement) == Spec.bytes(of: other), "X25519 symmetry")
            let binding = session + Spec.u32(sender) + Spec.u32(recipient)
            try require(binding == Derivation.shareBinding(sessionID: session, sender: sender, recipient: recipient), "share binding")
            let key = Spec.bytes(of: Derivation.shareEncryptionKey(
                agreement: agreement, sessionID: session, sender: sender, recipient: recipient))
            try require(key == keyedHash(key: Spec.bytes(of: agreement), label: label, context: binding), "share encryption key")
            for field in ["session_id", "sender", "recipient", "sender_private_key", "recipient_private_key"] {
                out[field] = try input.member(field)
            }
            out["sender_public_key"] = .hex(senderKey.publicKey.rawRepresentation)
            out["recipient_public_key"] = .hex(recipientKey.publicKey.rawRepresentation)
            out["kdf_key"] = .hex(Spec.bytes(of: agreement))
            out["kdf_input"] = .hex(Spec.label(label) + binding)
            out["output"] = .hex(key)
        case Derivation.selfMaskLabel, Derivation.selfMaskCommitmentLabel:
            let session = try input.bytes("session_id")
            let owner = try input.uint32("owner")
            let seed = try input.bytes("self_mask_seed")
            guard seed.count == 32 else { throw .badField("self_mask_seed", "must be 32 bytes") }
            let context = session + Spec.u32(owner)
            let output = label == Derivation.selfMaskLabel
                ? Spec.bytes(of: Derivation.selfMaskKey(seed: SecureBytes(copying: seed), sessionID: session, owner: owner))
                : Derivation.selfMaskCommitment(seed: SecureBytes(copying: seed), sessionID: session, owner: owner)
            try require(output == keyedHash(key: seed, label: label, context: context), label)
            for field in ["session_id", "owner", "self_mask_seed"] { out[field] = try input.member(field) }
            out["kdf_key"] = .hex(seed)
            out["kdf_input"] = .hex(Spec.label(label) + context)
            out["output"] = .hex(output)
        case Derivation.pairwiseMaskLabel:
            let session = try input.bytes("session_id")
            let (first, second) = (try input.uint32("first"), try input.uint32("second"))
            let firstKey = try Spec.x25519(try input.bytes("first_private_key"), field: "first_private_key")
            let secondKey = try Spec.x25519(try input.bytes("second_private_key"), field: "second_private_key")
            let agreement = try Spec.agreement(firstKey, secondKey.publicKey)
            let key = Spec.bytes(of: Derivation.pairwiseMaskKey(agreement: agreement, sessionID: session, first, second))
            let reverse = Spec.bytes(of: Derivation.pairwiseMaskKey(
                agreement: try Spec.agreement(secondKey, firstKey.publicKey), sessionID: session, second, first))
            let context = session + Spec.u32(min(first, second)) + Spec.u32(max(first, second))
            try require(key == reverse && key == keyedHash(key: Spec.bytes(of: agreement), label: label, context: context), label)
            for field in ["session_id", "first", "second", "first_private_key", "second_private_key"] {
                out[field] = try input.member(field)
            }
            out["first_public_key"] = .hex(firstKey.publicKey.rawRepresentation)
            out["second_public_key"] = .hex(secondKey.publicKey.rawRepresentation)
            out["kdf_key"] = .hex(Spec.bytes(of: agreement))
            out["kdf_input"] = .hex(Spec.label(label) + context)
            out["output"] = .hex(key)
            out["first_sign"] = .number(first < second ? "1" : "-1")
        case Derivation.consistencyLabel:
            let session = try input.bytes("session_id")
            let key = try Spec.ed25519(try input.bytes("identity_seed"), field: "identity_seed")
            let count = try input.uint32("survivor_count")
            let root = try input.bytes("survivor_root")
            let signed = Derivation.consistencyMessage(sessionID: session, survivorCount: count, survivorRoot: root)
            try require(signed == Spec.consistencyInput(sessionID: session, survivorCount: count, survivorRoot: root),
                        "consistency input")
            for field in ["session_id", "identity_seed", "survivor_count", "survivor_root"] { out[field] = try input.member(field) }
            out["identity_key"] = .hex(key.verifyingKey.rawRepresentation)
            out["signed_input"] = .hex(signed)
            out["signature"] = .hex(key.signature(for: signed).rawRepresentation)
        case Derivation.merkleNodeLabel:
            let (left, right) = (try input.bytes("left"), try input.bytes("right"))
            guard left.count == 32, right.count == 32 else { throw .badField("left", "two 32-byte digests") }
            let hashed = Spec.label(label) + left + right
            let node: [UInt8]
            do { node = try MerkleTree(leaves: [left, right], nodePrefix: Derivation.merkleNodePrefix).root } catch {
                throw .disagreement("two-leaf tree: \(error)")
            }
            try require(Derivation.merkleNodePrefix == Spec.label(label), "merkle node prefix")
            try require(node == Blake2b.hash(hashed) && node == Spec.merkleNode(left, right), "merkle node")
            out["left"] = .hex(left)
            out["right"] = .hex(right)
            out["hash_input"] = .hex(hashed)
            out["output"] = .hex(node)
        case Derivation.advertisementLeafLabel:
            let index = try input.uint32("index")
            let present = try input.bool("present")
            var advertisement: Spec.Advertisement?
            var keyAdvertisement: KeyAdvertisement?
            out["index"] = .uint(index)
            out["present"] = .bool(present)
            if present {
                let entry = Spec.Advertisement(
                    index: index, identityKey: try input.bytes("identity_key"), encryptionKey: try input.bytes("encryption_key"),
                    maskingKey: try input.bytes("masking_key"), signature: try input.bytes("signature"))
                advertisement = entry
                keyAdvertisement = KeyAdvertisement(
                    index: index, identityKey: entry.identityKey, encryptionKey: entry.encryptionKey,
                    maskingKey: entry.maskingKey, signature: entry.signature, endorsement: [])
                for field in ["identity_key", "encryption_key", "masking_key", "signature"] { out[field] = try input.member(field) }
            }
            let hashed = Spec.advertisementLeafInput(index: index, advertisement)
            let leaf = Derivation.advertisementLeaf(index: index, advertisement: keyAdvertisement)
            try require(leaf == Blake2b.hash(hashed), "advertisement leaf of \(index)")
            out["hash_input"] = .hex(hashed)
            out["output"] = .hex(leaf)
        case Derivation.survivorLeafLabel:
            let index = try input.uint32("index")
            let status = try input.uint32("status")
            guard status <= 1 else { throw .badField("status", "0 or 1") }
            let hashed = Spec.survivorLeafInput(participant: index, survived: status == 1)
            let leaf = Derivation.survivorLeaf(index: index, survived: status == 1)
            try require(leaf == Blake2b.hash(hashed), "survivor leaf of \(index)")
            out["index"] = .uint(index)
            out["status"] = .uint(status)
            out["hash_input"] = .hex(hashed)
            out["output"] = .hex(leaf)
        default:
            throw .badField("label", "unknown label \(label)")
        }
        return .object(out)
    }

    /// KDF(K, L, ctx) = BLAKE2b-256 keyed with K over label(L) ‖ ctx, through the generic primitive.
    static func keyedHash(key: [UInt8], label: String, context: [UInt8]) -> [UInt8] {
        KDF.derive(label: label, from: SecureBytes(copying: key), context: context, outputByteCount: 32).unsafeCopyToArray()
    }

    // MARK: PRG (SPEC 5.8)

    static let prg = VectorFileKind(
        name: "prg.json",
        description: "Mask PRG of SPEC 5.8: ChaCha20 keystream under `key` (zero nonce, counter 0), lanes of "
            + "`lane_bytes` little-endian bytes reduced modulo 2^bits. Cases cover lane widths 4 and 8 and the 4 KiB "
            + "keystream chunk boundary of streaming implementations (lane 1024 of 4-byte lanes, 512 of 8-byte lanes).",
        inputs: prgInputs, compute: computePRG)

    private static func prgInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("prg")
        let cases: [(Int, Int)] = [(1, 8), (8, 8), (16, 12), (31, 8), (32, 16), (33, 8), (48, 8), (63, 8), (64, 12),
                                   (32, 1030), (64, 516)]
        return cases.map { bits, dimension in
            .object(["key": .hex(material.bytes(32)), "bits": .uint(bits), "dimension": .uint(dimension)])
        }
    }

    private static func computePRG(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let key = try input.bytes("key")
        let (bits, dimension) = (try input.int("bits"), try input.int("dimension"))
        guard (1...64).contains(bits), (1...4096).contains(dimension) else { throw .badField("bits", "out of range") }
        let (keystream, lanes) = try Spec.prgLanes(key: key, bits: bits, dimension: dimension)
        var vector: ModularVector
        do { vector = try ModularVector(zeros: dimension, bits: bits) } catch { throw .badField("dimension", "\(error)") }
        vector.applyMask(seed: try Spec.symmetricKey(key), direction: .add)
        try require(vector.values == lanes, "PRG lanes (bits \(bits), dimension \(dimension))")
        return .object([
            "key": .hex(key), "bits": .uint(bits), "dimension": .uint(dimension), "lane_bytes": .uint(bits <= 32 ? 4 : 8),
            "keystream": .hex(keystream), "lanes": .uints(lanes),
        ])
    }

    // MARK: Shamir (SPEC 6)

    static let shamir = VectorFileKind(
        name: "shamir.json",
        description: "Shamir sharing over GF(2^61 - 1) (SPEC 6). `split`: `coefficients[c]` lists a_{c,1}..a_{c,t-1} of "
            + "chunk c's polynomial (a_{c,0} is the chunk); each share is f_c(x) for every chunk, encoded as 8-byte "
            + "little-endian elements. `combine`: plain reconstruction from the first t shares with every further share "
            + "checked. `robust_combine`: reconstruction checked against `masking_public_key` = X25519(secret, 9), with "
            + "holders off the accepted polynomial listed. `decode`: one encoded share. Failing cases name the error.",
        inputs: shamirInputs, compute: computeShamir)

    private static func shamirInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("shamir")
        func coefficients(_ chunks: Int, _ threshold: Int, _ material: inout Material) -> JSONValue {
            .array((0..<chunks).map { _ in .uints((1..<threshold).map { _ in material.fieldElement() }) })
        }
        var cases: [JSONValue] = []
        cases.append(.object([
            "name": .string("split-32-byte-t3"), "operation": .string("split"), "secret": .hex(material.bytes(32)),
            "threshold": .uint(3), "xs": .uints([1, 2, 3, 5, 8] as [UInt32]), "coefficients": coefficients(5, 3, &material),
        ]))
        cases.append(.object([
            "name": .string("split-10-byte-t2"), "operation": .string("split"), "secret": .hex(material.bytes(10)),
            "threshold": .uint(2), "xs": .uints([4, 9, 1_000_000] as [UInt32]), "coefficients": coefficients(2, 2, &material),
        ]))
        // A masking key shared with t = 3 among five holders; the combine cases below use its shares.
        let maskingKey = material.bytes(32)
        let keyCoefficients = (0..<5).map { _ in (1..<3).map { _ in material.fieldElement() } }
        let xs: [UInt32] = [2, 3, 5, 6, 7]
        var random = TapeRandom(coefficientTape(keyCoefficients))
        let shares: [ShamirShare]
        do { shares = try Shamir.split(SecureBytes(copying: maskingKey), threshold: 3, xCoordinates: xs, using: &random) } catch {
            throw .disagreement("split: \(error)")
        }
        let publicKey = try Spec.x25519(maskingKey, field: "secret").publicKey.rawRepresentation
        func listed(_ shares: [ShamirShare]) -> JSONValue {
            .array(shares.map { .object(["x": .uint($0.x), "share": .hex($0.encoded)]) })
        }
        var corrupted = shares
        var tampered = corrupted[1].encoded
        tampered[0] ^= 0x01
        do { corrupted[1] = try ShamirShare(x: corrupted[1].x, encoded: tampered) } catch { throw .disagreement("tamper") }
        cases.append(.object(["name": .string("combine-first-t"), "operation": .string("combine"), "threshold": .uint(3),
                              "secret_bytes": .uint(32), "shares": listed(Array(shares[1...3]))]))
        cases.append(.object(["name": .string("combine-all-consistent"), "operation": .string("combine"), "threshold": .uint(3),
                              "secret_bytes": .uint(32), "shares": listed(shares)]))
        cases.append(.object(["name": .string("combine-detects-bad-extra-share"), "operation": .string("combine"),
                              "threshold": .uint(3), "secret_bytes": .uint(32), "shares": listed([shares[0], shares[2], shares[3], corrupted[1]])]))
        cases.append(.object(["name": .string("combine-too-few"), "operation": .string("combine"), "threshold": .uint(3),
                              "secret_bytes": .uint(32), "shares": listed(Array(shares[0...1]))]))
        cases.append(.object(["name": .string("robust-combine-skips-bad-share"), "operation": .string("robust_combine"),
                              "threshold": .uint(3), "secret_bytes": .uint(32), "masking_public_key": .hex(publicKey),
                              "shares": listed(corrupted)]))
        cases.append(.object(["name": .string("decode-element-not-below-p"), "operation": .string("decode"), "x": .uint(4),
                              "share": .hex([UInt8](repeating: 0xff, count: 7) + [0x1f] + [UInt8](repeating: 0, count: 32))]))
        cases.append(.object(["name": .string("decode-length-not-multiple-of-8"), "operation": .string("decode"), "x": .uint(4),
                              "share": .hex([UInt8](repeating: 0, count: 39))]))
        cases.append(.object(["name": .string("decode-zero-x"), "operation": .string("decode"), "x": .uint(0),
                              "share": .hex([UInt8](repeating: 0, count: 40))]))
        return cases
    }

    private static func computeShamir(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let operation = try input.string("operation")
        var out: [String: JSONValue] = ["operation": .string(operation)]
        if let name = input.optionalMember("name") { out["name"] = name }
        func parseShares(_ value: JSONValue) throws(VectorError) -> [ShamirShare] {
            var shares: [ShamirShare] = []
            for entry in try value.array("shares") {
                do { shares.append(try ShamirShare(x: try entry.uint32("x"), encoded: try entry.bytes("share"))) } catch {
                    throw .badField("shares", "\(error)")
                }
            }
            return shares
        }
        switch operation {
        case "split":
            let secret = try input.bytes("secret")
            let threshold = try input.int("threshold")
            let xs = try input.uint64s("xs").map { UInt32(truncatingIfNeeded: $0) }
            var coefficients: [[UInt64]] = []
            for chunk in try input.array("coefficients") {
                guard case let .array(values) = chunk else { throw .badField("coefficients", "not a list of lists") }
                let row = values.compactMap(\.asUInt64)
                guard row.count == values.count, row.allSatisfy({ $0 < Shamir.prime }) else {
                    throw .badField("coefficients", "elements must be integers below p")
                }
                coefficients.append(row)
            }
            var random = TapeRandom(coefficientTape(coefficients))
            let shares: [ShamirShare]
            do { shares = try Shamir.split(SecureBytes(copying: secret), threshold: threshold, xCoordinates: xs, using: &random) } catch {
                throw .badField("threshold", "\(error)")
            }
            try random.checkExhausted("coefficients")
            let chunks = Spec.chunks(of: secret)
            for share in shares {
                let expected = chunks.indices.map { Spec.evaluate([chunks[$0]] + coefficients[$0], at: UInt64(share.x)) }
                try require(share.values == expected, "Shamir share at x = \(share.x)")
            }
            for field in ["secret", "threshold", "xs", "coefficients"] { out[field] = try input.member(field) }
            out["chunks"] = .uints(chunks)
            out["shares"] = .array(shares.map { .object(["x": .uint($0.x), "values": .uints($0.values), "share": .hex($0.encoded)]) })
        case "combine", "robust_combine":
            let shares = try parseShares(input)
            let threshold = try input.int("threshold")
            let length = try input.int("secret_bytes")
            for field in ["threshold", "secret_bytes", "shares"] { out[field] = try input.member(field) }
            let expected = operation == "combine" ? [] : try input.bytes("masking_public_key")
            if operation != "combine" { out["masking_public_key"] = .hex(expected) }
            do throws(ShamirError) {
                if operation == "combine" {
                    out["secret"] = .hex(try Shamir.combine(shares, threshold: threshold, secretByteCount: length).unsafeCopyToArray())
                } else {
                    let result = try Shamir.robustCombine(shares, threshold: threshold, secretByteCount: length) { candidate in
                        (try? X25519.PrivateKey(rawRepresentation: candidate))?.publicKey.rawRepresentation == expected
                    }
                    out["secret"] = .hex(result.secret.unsafeCopyToArray())
                    out["inconsistent_holders"] = .uints(result.inconsistent)
                }
            } catch {
                out["error"] = .string(shamirErrorName(error))
            }
        case "decode":
            let x = try input.uint32("x")
            let encoded = try input.bytes("share")
            out["x"] = .uint(x)
            out["share"] = .hex(encoded)
            do { out["values"] = .uints(try ShamirShare(x: x, encoded: encoded).values) } catch {
                out["error"] = .string(shamirErrorName(error))
            }
        default:
            throw .badField("operation", "unknown operation \(operation)")
        }
        return .object(out)
    }

    static func shamirErrorName(_ error: ShamirError) -> String {
        switch error {
        case .invalidThreshold: return "invalidThreshold"
        case .invalidCoordinate: return "invalidCoordinate"
        case .duplicateCoordinate: return "duplicateCoordinate"
        case .malformedShare: return "malformedShare"
        case .insufficientShares: return "insufficientShares"
        case .inconsistentShares: return "inconsistentShares"
        case .reconstructionFailed: return "reconstructionFailed"
        }
    }

    // MARK: Share encryption (SPEC 5.2)

    static let shareEncryption = VectorFileKind(
        name: "share_encryption.json",
        description: "Share bundles (SPEC 4.1.4, 5.2). `seal`: the sender's X25519 agreement with the recipient, the "
            + "key KDF(agreement, \"secagg/v2/share-encryption\", binding), binding = session_id || u32(sender) || "
            + "u32(recipient) as associated data, a zero nonce. `open`: the recipient's side; failing cases name the error.",
        inputs: shareEncryptionInputs, compute: computeShareEncryption)

    private static func shareEncryptionInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("share-encryption")
        let (session, senderKey, recipientKey) = (material.bytes(32), material.bytes(32), material.bytes(32))
        let seal = JSONValue.object([
            "name": .string("seal"), "operation": .string("seal"), "session_id": .hex(session), "sender": .uint(3),
            "recipient": .uint(7), "sender_private_key": .hex(senderKey), "recipient_private_key": .hex(recipientKey),
            "self_mask_share": .hex(material.bytes(40).map { $0 & 0x0f }), "masking_key_share": .hex(material.bytes(40).map { $0 & 0x0f }),
        ])
        guard case let .string(ciphertextHex)? = try computeShareEncryption(seal).optionalMember("ciphertext"),
              let ciphertext = SecAggWire.bytes(fromHex: ciphertextHex) else { throw .disagreement("seal") }
        func open(_ name: String, session: [UInt8], sender: UInt32 = 3, recipient: UInt32 = 7, ciphertext: [UInt8]) -> JSONValue {
            .object([
                "name": .string(name), "operation": .string("open"), "session_id": .hex(session), "sender": .uint(sender),
                "recipient": .uint(recipient), "sender_private_key": .hex(senderKey),
                "recipient_private_key": .hex(recipientKey), "ciphertext": .hex(ciphertext),
            ])
        }
        var tampered = ciphertext
        tampered[17] ^= 0x80
        var otherSession = session
        otherSession[0] ^= 0x01
        return [
            seal,
            open("open", session: session, ciphertext: ciphertext),
            open("open-tampered-ciphertext", session: session, ciphertext: tampered),
            open("open-wrong-session-id", session: otherSession, ciphertext: ciphertext),
            open("open-swapped-sender-and-recipient", session: session, sender: 7, recipient: 3, ciphertext: ciphertext),
            open("open-truncated-ciphertext", session: session, ciphertext: Array(ciphertext.prefix(15))),
        ]
    }

    private static func computeShareEncryption(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let operation = try input.string("operation")
        let session = try input.bytes("session_id")
        let (sender, recipient) = (try input.uint32("sender"), try input.uint32("recipient"))
        // Private keys are named by role in the seal case: the sender seals, the recipient opens.
        let senderKey = try Spec.x25519(try input.bytes("sender_private_key"), field: "sender_private_key")
        let recipientKey = try Spec.x25519(try input.bytes("recipient_private_key"), field: "recipient_private_key")
        var out: [String: JSONValue] = [:]
        for field in ["name", "operation", "session_id", "sender", "recipient", "sender_private_key", "recipient_private_key"] {
            out[field] = input.optionalMember(field)
        }
        out["sender_public_key"] = .hex(senderKey.publicKey.rawRepresentation)
        out["recipient_public_key"] = .hex(recipientKey.publicKey.rawRepresentation)
        let binding = Derivation.shareBinding(sessionID: session, sender: sender, recipient: recipient)
        out["associated_data"] = .hex(binding)
        switch operation {
        case "seal":
            let agreement = try Spec.agreement(senderKey, recipientKey.publicKey)
            let key = Derivation.shareEncryptionKey(agreement: agreement, sessionID: session, sender: sender, recipient: recipient)
            let bundle = ShareBundle(
                owner: sender, holder: recipient, selfMaskShare: try input.bytes("self_mask_share"),
                maskingKeyShare: try input.bytes("masking_key_share"))
            let plaintext = bundle.encoded
            try require(plaintext == Spec.u32(sender) + Spec.u32(recipient) + [0, UInt8(bundle.selfMaskShare.count)]
                        + bundle.selfMaskShare + [0, UInt8(bundle.maskingKeyShare.count)] + bundle.maskingKeyShare, "ShareBundle encoding")
            let ciphertext: [UInt8]
            do {
                ciphertext = try ChaChaPoly.seal(SecureBytes(copying: plaintext), using: key,
                                                 nonce: Derivation.zeroNonce, authenticating: binding)
            } catch { throw .disagreement("seal: \(error)") }
            out["self_mask_share"] = .hex(bundle.selfMaskShare)
            out["masking_key_share"] = .hex(bundle.maskingKeyShare)
            out["agreement"] = .hex(Spec.bytes(of: agreement))
            out["key"] = .hex(Spec.bytes(of: key))
            out["nonce"] = .hex(Derivation.zeroNonce)
            out["bundle"] = .hex(plaintext)
            out["ciphertext"] = .hex(ciphertext)
        case "open":
            let ciphertext = try input.bytes("ciphertext")
            let agreement = try Spec.agreement(recipientKey, senderKey.publicKey)
            let key = Derivation.shareEncryptionKey(agreement: agreement, sessionID: session, sender: sender, recipient: recipient)
            out["ciphertext"] = .hex(ciphertext)
            out["key"] = .hex(Spec.bytes(of: key))
            do {
                let plaintext = try ChaChaPoly.open(ciphertext, using: key, nonce: Derivation.zeroNonce, authenticating: binding)
                out["bundle"] = .hex(plaintext.unsafeCopyToArray())
            } catch {
                out["error"] = .string(error == .authenticationFailed ? "authenticationFailed" : "\(error)")
            }
        default:
            throw .badField("operation", "unknown operation \(operation)")
        }
        return .object(out)
    }

    // MARK: Graph (SPEC 7)

    static let graph = VectorFileKind(
        name: "graph.json",
        description: "The ring labelling and neighbour graphs of SPEC 7. `permutation`: the keyed Feistel permutation pi of "
            + "0..n-1 (SPEC 7.2) with key `graph_seed`: `bits` (b), `half_bits` (h), the round tables T_0..T_7 when h <= 5, "
            + "and for each of `points` its image pi(x), its preimage pi^-1(x), and how many passes of E (or D) the cycle "
            + "walk took. `graph`: `graph_seed` = KDF(session_id, \"secagg/v2/graph\", empty); the graph is over the invited "
            + "indices 1..invited_count; `ring[p]` is the participant at ring position p (= pi^-1(p) + 1, for every graph "
            + "kind); `neighbours` maps each participant u to N(u), increasing.",
        inputs: graphInputs, compute: computeGraph)

    private static func graphInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("graph")
        var cases: [JSONValue] = []
        // Powers of four (no cycle walking: 2^b = n), other powers of two and non-powers (walks of several passes).
        let permutations: [(Int, [Int]?)] = [
            (1, nil), (2, nil), (3, nil), (4, nil), (5, nil), (7, nil), (13, nil), (16, nil), (17, nil), (64, nil),
            (100, nil), (1_000, [0, 1, 2, 499, 500, 997, 998, 999]),
            (1_000_000, [0, 1, 2, 3, 65_535, 65_536, 262_143, 262_144, 500_000, 999_998, 999_999]),
        ]
        for (n, points) in permutations {
            cases.append(.object([
                "name": .string("permutation-n\(n)"), "operation": .string("permutation"), "invited_count": .uint(n),
                "graph_seed": .hex(material.bytes(32)), "points": .uints(points ?? Array(0..<n)),
            ]))
        }
        let graphs: [(String, Int, String, Int)] = [
            ("complete-n5", 5, "complete", 0),
            ("harary-n8-k4-even-degree", 8, "harary", 4),
            ("harary-n8-k3-odd-degree-even-n", 8, "harary", 3),
            ("harary-n7-k3-odd-degree-odd-n", 7, "harary", 3),
            ("harary-n9-k5-odd-degree-odd-n", 9, "harary", 5),
            ("harary-n13-k4-even-degree-odd-n", 13, "harary", 4),
            ("harary-n6-k5-complete", 6, "harary", 5),
            ("harary-n16-k6", 16, "harary", 6),
            ("harary-n64-k6", 64, "harary", 6),
            ("harary-n101-k7-odd-degree-odd-n", 101, "harary", 7),
        ]
        for (name, n, kind, degree) in graphs {
            cases.append(.object([
                "name": .string(name), "operation": .string("graph"), "session_id": .hex(material.bytes(32)),
                "invited_count": .uint(n), "graph": .string(kind), "degree": .uint(degree),
            ]))
        }
        return cases
    }

    private static func computeGraph(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let operation = try input.string("operation")
        let n = try input.int("invited_count")
        guard (1...1_000_000).contains(n) else { throw .badField("invited_count", "1 to 1,000,000") }
        var out: [String: JSONValue] = ["operation": .string(operation), "invited_count": .uint(n)]
        if let name = input.optionalMember("name") { out["name"] = name }
        switch operation {
        case "permutation":
            let seed = try input.bytes("graph_seed")
            let points = try input.uint64s("points").map { Int(truncatingIfNeeded: $0) }
            guard points.allSatisfy({ (0..<n).contains($0) }) else { throw .badField("points", "each below invited_count") }
            let spec = try Spec.Permutation(count: n, seed: seed)
            let permutation: IndexPermutation
            do { permutation = try IndexPermutation(count: n, seed: try Spec.symmetricKey(seed)) } catch {
                throw .badField("invited_count", "\(error)")
            }
            var images: [Int] = [], imagePasses: [Int] = [], preimages: [Int] = [], preimagePasses: [Int] = []
            for x in points {
                let image = spec.apply(x)
                let preimage = spec.invert(x)
                try require(permutation.apply(x) == image.value, "pi(\(x)) for n = \(n)")
                try require(permutation.invert(x) == preimage.value, "pi^-1(\(x)) for n = \(n)")
                try require(spec.invert(image.value).value == x, "pi^-1(pi(\(x))) for n = \(n)")
                images.append(image.value)
                imagePasses.append(image.passes)
                preimages.append(preimage.value)
                preimagePasses.append(preimage.passes)
            }
            out["graph_seed"] = .hex(seed)
            out["points"] = .uints(points)
            out["bits"] = .uint(spec.bits)
            out["half_bits"] = .uint(spec.halfBits)
            if spec.halfBits <= 5 { out["round_tables"] = .array(spec.tables.map { .uints($0) }) }
            out["images"] = .uints(images)
            out["image_passes"] = .uints(imagePasses)
            out["preimages"] = .uints(preimages)
            out["preimage_passes"] = .uints(preimagePasses)
        case "graph":
            let session = try input.bytes("session_id")
            let kindName = try input.string("graph")
            let degree = try input.int("degree")
            let kind: NeighborGraph.Kind
            switch kindName {
            case "complete": kind = .complete
            case "harary": kind = .harary(degree: degree)
            default: throw .badField("graph", "complete or harary")
            }
            let seed = Spec.graphSeed(sessionID: session)
            try require(seed == Derivation.graphSeed(sessionID: session), "graph seed")
            let graph: NeighborGraph
            do { graph = try NeighborGraph(invitedCount: n, kind: kind, seed: try Spec.symmetricKey(seed)) } catch {
                throw .badField("degree", "\(error)")
            }
            // Independent recomputation from SPEC 7.1-7.3.
            let spec = try Spec.Graph(invitedCount: n, degree: kindName == "complete" ? nil : degree, seed: seed)
            try require(graph.ringSize == n, "ring size")
            var neighbours: [String: JSONValue] = [:]
            for position in 0..<n {
                let participant = spec.ring[position]
                try require(graph.participant(atRingPosition: position) == participant, "participant at ring position \(position)")
                try require(graph.ringPosition(of: participant) == position, "ring position of \(participant)")
            }
            for u in 1...UInt32(n) {
                let adjacent = spec.neighbours(of: u)
                try require(graph.neighbors(of: u) == adjacent, "neighbours of \(u)")
                for v in 1...UInt32(n) {
                    try require(graph.areNeighbors(u, v) == adjacent.contains(v), "whether \(u) and \(v) are neighbours")
                }
                neighbours[String(u)] = .uints(adjacent)
            }
            for field in ["session_id", "graph", "degree"] { out[field] = try input.member(field) }
            out["graph_seed"] = .hex(seed)
            out["ring"] = .uints(spec.ring)
            out["neighbours"] = .object(neighbours)
        default:
            throw .badField("operation", "unknown operation \(operation)")
        }
        return .object(out)
    }

    // MARK: Merkle trees (SPEC 5.13)

    static let merkle = VectorFileKind(
        name: "merkle.json",
        description: "Merkle trees and multiproofs of SPEC 5.13 over `leaf_count` given 32-byte leaves, inner nodes "
            + "H(\"secagg/v2/merkle-node\", left || right), the last node of an odd level promoted unchanged. `levels[0]` "
            + "is the leaves, the last level the root. For each slot list of `position_sets` (strictly increasing), `proofs` "
            + "gives the sibling digests in the order of the SPEC 5.13 walk (levels bottom-up, known slots increasing); a "
            + "verifier consumes them in that order and rejects a proof with missing or extra digests.",
        inputs: merkleInputs, compute: computeMerkle)

    private static func merkleInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("merkle")
        let cases: [(Int, [[Int]])] = [
            (1, [[0]]),
            (2, [[0], [1], [0, 1]]),
            (3, [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]]),
            (5, [[0], [4], [0, 4], [1, 2, 3], [3, 4], [0, 1, 2, 3, 4]]),
            // A ring run across the end (positions 11, 12, 0, 1), a run in the middle, scattered slots, every slot.
            (13, [[12], [0, 12], [0, 1, 11, 12], [5, 6, 7, 8, 9], [2, 9], [3, 4, 5, 6, 7, 8, 9], Array(0..<13)]),
            // Harary k = 6 views at positions 0 (across the wrap) and 32; k = 5 at position 10 (its partner 42);
            // scattered slots; the first and last slot alone; every slot (an empty proof).
            (64, [[0, 1, 2, 3, 61, 62, 63], [29, 30, 31, 32, 33, 34, 35], [8, 9, 10, 11, 12, 42], [3, 17, 40, 63], [0], [63],
                  Array(0..<64)]),
        ]
        return cases.map { n, sets in
            .object([
                "name": .string("merkle-n\(n)"), "leaf_count": .uint(n), "leaves": .array((0..<n).map { _ in .hex(material.bytes(32)) }),
                "position_sets": .array(sets.map { .uints($0) }),
            ])
        }
    }

    private static func computeMerkle(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let n = try input.int("leaf_count")
        var leaves: [[UInt8]] = []
        for entry in try input.array("leaves") {
            guard case let .string(text) = entry, let leaf = SecAggWire.bytes(fromHex: text), leaf.count == 32 else {
                throw .badField("leaves", "32-byte hex digests")
            }
            leaves.append(leaf)
        }
        guard n >= 1, leaves.count == n else { throw .badField("leaf_count", "the number of leaves, at least 1") }
        var sets: [[Int]] = []
        for entry in try input.array("position_sets") {
            guard case let .array(values) = entry else { throw .badField("position_sets", "lists of slots") }
            let slots = values.compactMap(\.asUInt64).map { Int(truncatingIfNeeded: $0) }
            guard slots.count == values.count, !slots.isEmpty, slots.allSatisfy({ $0 < n }),
                  zip(slots, slots.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw .badField("position_sets", "non-empty, strictly increasing, below leaf_count")
            }
            sets.append(slots)
        }
        let spec = Spec.Merkle(leaves: leaves)
        let tree: MerkleTree
        do { tree = try MerkleTree(leaves: leaves, nodePrefix: Derivation.merkleNodePrefix) } catch {
            throw .disagreement("MerkleTree: \(error)")
        }
        try require(tree.root == spec.root, "Merkle root of \(n) leaves")
        var proofs: [JSONValue] = []
        for slots in sets {
            let proof = spec.proof(slots)
            let known = slots.map { ($0, leaves[$0]) }
            let codeProof: [[UInt8]]
            do { codeProof = try tree.proof(for: slots) } catch { throw .disagreement("MerkleTree.proof: \(error)") }
            try require(codeProof == proof, "multiproof of \(slots) in \(n) leaves")
            try require((try? MerkleTree.proofLength(leafCount: n, positions: slots)) == proof.count, "proof length of \(slots)")
            try require(Spec.merkleRoot(leafCount: n, leaves: known, proof: proof) == spec.root, "recomputed root of \(slots)")
            try require(MerkleTree.verify(root: spec.root, leafCount: n, leaves: known.map { (position: $0.0, digest: $0.1) },
                                          proof: proof, nodePrefix: Derivation.merkleNodePrefix), "MerkleTree.verify of \(slots)")
            // Both sides reject a proof that is one digest short or long, and one with a digest changed.
            var variants: [[[UInt8]]] = [proof + [spec.root]]
            if !proof.isEmpty {
                variants.append(Array(proof.dropLast()))
                var flipped = proof
                flipped[0][0] ^= 0x01
                variants.append(flipped)
            }
            for variant in variants {
                try require(Spec.merkleRoot(leafCount: n, leaves: known, proof: variant) != spec.root, "a bad proof of \(slots) is rejected")
                try require(!MerkleTree.verify(root: spec.root, leafCount: n, leaves: known.map { (position: $0.0, digest: $0.1) },
                                               proof: variant, nodePrefix: Derivation.merkleNodePrefix),
                            "MerkleTree.verify rejects a bad proof of \(slots)")
            }
            proofs.append(.object(["positions": .uints(slots), "proof": .array(proof.map { .hex($0) })]))
        }
        var out: [String: JSONValue] = [
            "leaf_count": .uint(n), "leaves": .array(leaves.map { .hex($0) }),
            "position_sets": .array(sets.map { .uints($0) }), "levels": .array(spec.levels.map { .array($0.map { .hex($0) }) }),
            "root": .hex(spec.root), "proofs": .array(proofs),
        ]
        if let name = input.optionalMember("name") { out["name"] = name }
        return .object(out)
    }

    /// Whether ring positions p and q are adjacent in H(k, n) (SPEC 7.3).
    static func hararyAdjacent(_ p: Int, _ q: Int, n: Int, k: Int) -> Bool {
        let distance = min(abs(p - q), n - abs(p - q))
        if distance <= k / 2 { return true }
        guard k % 2 == 1 else { return false }
        if n % 2 == 0 { return abs(p - q) == n / 2 }
        let (low, high) = (min(p, q), max(p, q))
        for r in 0...((n - 1) / 2) {
            let partner = (r + (n + 1) / 2) % n
            if (min(r, partner), max(r, partner)) == (low, high) { return true }
        }
        return false
    }

    // MARK: Parameters (SPEC 7.4, 2.3)

    static let parameters = VectorFileKind(
        name: "parameters.json",
        description: "`find`: the (k, t) parameter finder of SPEC 7.4 (informative; rates are decimal strings, "
            + "40 security and 20 failure bits); `graph` is complete when no Harary degree qualifies. `validate`: the "
            + "checks of SPEC 2.3 and 4.1.1 on encoded RoundParameters, naming the failing field.",
        inputs: parameterInputs, compute: computeParameters)

    private static func parameterInputs() throws(VectorError) -> [JSONValue] {
        var cases: [JSONValue] = []
        let finds: [(Int, String, String, String)] = [
            (1_000, "0.05", "0.05", "honest_but_curious"), (10_000, "0.05", "0.05", "honest_but_curious"),
            (1_000_000, "0.05", "0.05", "honest_but_curious"), (1_000, "0.05", "0.05", "active"),
            (100, "0.05", "0.05", "honest_but_curious"), (100, "0.05", "0.05", "active"),
            (8, "0.1", "0.1", "honest_but_curious"), (5, "0.2", "0", "honest_but_curious"), (50, "0.3", "0.1", "active"),
        ]
        for (n, dropout, corrupt, mode) in finds {
            cases.append(.object(["operation": .string("find"), "client_count": .uint(n), "dropout_rate": .string(dropout),
                                  "corrupt_rate": .string(corrupt), "mode": .string(mode)]))
        }
        let base = MessageVectors.sampleParameters(graph: .harary(degree: 4), mode: .honestButCurious)
        var invalid: [(String, RoundParameters)] = [("valid", base)]
        var p = base
        p.maximumInput = UInt64(1) << 62
        invalid.append(("sum-may-overflow", p))
        p = base; p.threshold = p.invitedCount
        invalid.append(("threshold-too-large", p))
        p = base; p.minimumSurvivors = p.threshold
        invalid.append(("minimum-survivors-not-above-threshold", p))
        p = base; p.graph = .harary(degree: 2)
        invalid.append(("threshold-above-degree", p))
        p = base; p.mode = .active; p.threshold = 2
        invalid.append(("active-threshold-not-majority", p))
        p = base; p.bits = 0
        invalid.append(("bits-zero", p))
        p = base; p.dimension = 0
        invalid.append(("dimension-zero", p))
        p = base; p.noise = .distributed(localVariance: NoiseVariance(numerator: 1 << 40, denominator: 1))
        invalid.append(("noisy-sum-may-overflow", p))
        for (name, parameters) in invalid {
            cases.append(.object(["name": .string(name), "operation": .string("validate"), "round_parameters": .hex(parameters.encoded)]))
        }
        return cases
    }

    private static func computeParameters(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let operation = try input.string("operation")
        var out: [String: JSONValue] = ["operation": .string(operation)]
        if let name = input.optionalMember("name") { out["name"] = name }
        switch operation {
        case "find":
            let n = try input.int("client_count")
            let modeName = try input.string("mode")
            guard let dropout = Double(try input.string("dropout_rate")), let corrupt = Double(try input.string("corrupt_rate")) else {
                throw .badField("dropout_rate", "decimal strings")
            }
            let model: ThreatModel
            switch modeName {
            case "honest_but_curious": model = .honestButCurious
            case "active": model = .active
            default: throw .badField("mode", "honest_but_curious or active")
            }
            for field in ["client_count", "dropout_rate", "corrupt_rate", "mode"] { out[field] = try input.member(field) }
            do {
                let found = try ParameterFinder.find(clientCount: n, dropoutRate: dropout, corruptRate: corrupt, model: model)
                out["degree"] = .uint(found.degree)
                out["threshold"] = .uint(found.threshold)
                out["graph"] = .string(found.degree >= n - 1 ? "complete" : "harary")
            } catch {
                out["error"] = .string("\(error)")
            }
        case "validate":
            let encoded = try input.bytes("round_parameters")
            out["round_parameters"] = .hex(encoded)
            do {
                let parameters = try RoundParameters(decoding: encoded)
                try parameters.validate()
                out["valid"] = .bool(true)
            } catch let error as ParameterValidationError {
                out["valid"] = .bool(false)
                switch error {
                case let .invalidField(field, _): out["error"] = .string("invalidField(\(field))")
                case .sumMayOverflow: out["error"] = .string("sumMayOverflow")
                case .noisySumMayOverflow: out["error"] = .string("noisySumMayOverflow")
                }
            } catch {
                throw .badField("round_parameters", "does not decode: \(error)")
            }
        default:
            throw .badField("operation", "unknown operation \(operation)")
        }
        return .object(out)
    }
}
