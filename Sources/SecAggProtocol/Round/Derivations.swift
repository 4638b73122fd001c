import SecAggCrypto
import SecAggMath
import SecAggWire

/// Every hash, KDF, signature input and associated-data string of the protocol, with its exact label
/// (SPEC §5). Keeping them in one place is what lets the spec list them exhaustively.
///
/// Conventions: `u32(x)` is 4 bytes big-endian; `label(L)` is one length byte followed by the ASCII label.
/// The session id binds every later derivation to one round.
public enum Derivation {
    public static let roundDigestLabel = "secagg/v2/round"
    public static let advertisementLabel = "secagg/v2/advertise"
    public static let endorsementLabel = "secagg/v1/endorse"
    public static let sessionLabel = "secagg/v2/session"
    public static let graphLabel = "secagg/v2/graph"
    public static let shareEncryptionLabel = "secagg/v2/share-encryption"
    public static let selfMaskLabel = "secagg/v2/self-mask"
    public static let selfMaskCommitmentLabel = "secagg/v2/self-mask-commitment"
    public static let pairwiseMaskLabel = "secagg/v2/pairwise-mask"
    public static let consistencyLabel = "secagg/v2/consistency"
    public static let merkleNodeLabel = "secagg/v2/merkle-node"
    public static let advertisementLeafLabel = "secagg/v2/u1-leaf"
    public static let survivorLeafLabel = "secagg/v2/u3-leaf"

    /// The all-zero nonce used with keys that are unique to one (session, sender, recipient).
    public static let zeroNonce = [UInt8](repeating: 0, count: 12)

    static func labelled(_ label: String, _ parts: [UInt8]...) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(label.utf8.count)]
        bytes.append(contentsOf: label.utf8)
        for part in parts { bytes.append(contentsOf: part) }
        return bytes
    }

    static func u32(_ value: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// round_digest = BLAKE2b-256(label("secagg/v2/round") ‖ encode(RoundParameters)).
    public static func roundDigest(_ parameters: RoundParameters) -> [UInt8] {
        Blake2b.hash(labelled(roundDigestLabel, parameters.encoded))
    }

    /// The bytes a client signs to advertise its keys:
    /// label("secagg/v2/advertise") ‖ round_digest ‖ u32(index) ‖ c_pk ‖ s_pk.
    public static func advertisementMessage(
        roundDigest: [UInt8], index: ParticipantIndex, encryptionKey: [UInt8], maskingKey: [UInt8]
    ) -> [UInt8] {
        labelled(advertisementLabel, roundDigest, u32(index), encryptionKey, maskingKey)
    }

    /// The bytes an enrollment authority signs to vouch for an identity: label("secagg/v1/endorse") ‖ identity key.
    public static func endorsementMessage(identityKey: [UInt8]) -> [UInt8] {
        labelled(endorsementLabel, identityKey)
    }

    /// session_id = BLAKE2b-256(label("secagg/v2/session") ‖ round_digest ‖ u32(|U1|) ‖ u1_root) (SPEC §5.3).
    public static func sessionID(roundDigest: [UInt8], advertisedCount: UInt32, advertisementRoot: [UInt8]) -> [UInt8] {
        Blake2b.hash(labelled(sessionLabel, roundDigest, u32(advertisedCount), advertisementRoot))
    }

    /// The prefix of every inner Merkle node: label("secagg/v2/merkle-node") (SPEC §5.13).
    public static let merkleNodePrefix = labelled(merkleNodeLabel)

    /// The advertisement-tree leaf of participant `index` (SPEC §5.13): its advertisement if it is in U1
    /// (identity, keys and signature; no endorsement), or the absent leaf.
    public static func advertisementLeaf(index: ParticipantIndex, advertisement: KeyAdvertisement?) -> [UInt8] {
        guard let advertisement else { return Blake2b.hash(labelled(advertisementLeafLabel, u32(index), [0])) }
        return Blake2b.hash(labelled(
            advertisementLeafLabel, u32(index), [1], advertisement.identityKey, advertisement.encryptionKey,
            advertisement.maskingKey, advertisement.signature))
    }

    /// The survivor-tree leaf of participant `index` (SPEC §5.13).
    public static func survivorLeaf(index: ParticipantIndex, survived: Bool) -> [UInt8] {
        Blake2b.hash(labelled(survivorLeafLabel, u32(index), [survived ? 1 : 0]))
    }

    /// The public coin seeding the neighbour-graph labelling: KDF(label "secagg/v2/graph", key session_id, context empty).
    public static func graphSeed(sessionID: [UInt8]) -> [UInt8] {
        KDF.derive(label: graphLabel, from: SecureBytes(copying: sessionID), context: [], outputByteCount: 32)
            .unsafeCopyToArray()
    }

    /// The neighbour graph of a session (SPEC §7.1–7.3): over the invited indices 1...invited_count, of the kind the
    /// parameters name, with the ring labelling keyed by the graph seed. Every party derives the same graph.
    ///
    /// - Throws: ``GraphError`` if the parameters' degree or invited count cannot make a graph (validated parameters
    ///   always can).
    public static func neighbourGraph(parameters: RoundParameters, sessionID: [UInt8]) throws(GraphError) -> NeighborGraph {
        let kind: NeighborGraph.Kind
        switch parameters.graph {
        case .complete: kind = .complete
        case let .harary(degree): kind = .harary(degree: Int(degree))
        }
        guard let seed = try? SymmetricKey(SecureBytes(copying: graphSeed(sessionID: sessionID))) else {
            preconditionFailure("the graph seed has 32 bytes")
        }
        return try NeighborGraph(invitedCount: Int(parameters.invitedCount), kind: kind, seed: seed)
    }

    /// Context and associated data binding a share ciphertext: session_id ‖ u32(sender) ‖ u32(recipient).
    public static func shareBinding(sessionID: [UInt8], sender: ParticipantIndex, recipient: ParticipantIndex) -> [UInt8] {
        sessionID + u32(sender) + u32(recipient)
    }

    /// The key encrypting `sender`'s share bundle for `recipient`:
    /// KDF(label "secagg/v2/share-encryption", key X25519(c_sk, c_pk'), context shareBinding).
    public static func shareEncryptionKey(
        agreement: SharedSecret, sessionID: [UInt8], sender: ParticipantIndex, recipient: ParticipantIndex
    ) -> SymmetricKey {
        agreement.deriveKey(
            label: shareEncryptionLabel, context: shareBinding(sessionID: sessionID, sender: sender, recipient: recipient))
    }

    /// The self-mask PRG key of `owner`: KDF(label "secagg/v2/self-mask", key b_u, context session_id ‖ u32(owner)).
    public static func selfMaskKey(seed: SecureBytes, sessionID: [UInt8], owner: ParticipantIndex) -> SymmetricKey {
        KDF.deriveKey(label: selfMaskLabel, from: seed, context: sessionID + u32(owner))
    }

    /// The commitment to b_u that lets the coordinator check its reconstruction:
    /// KDF(label "secagg/v2/self-mask-commitment", key b_u, context session_id ‖ u32(owner)), 32 bytes.
    public static func selfMaskCommitment(seed: SecureBytes, sessionID: [UInt8], owner: ParticipantIndex) -> [UInt8] {
        KDF.derive(label: selfMaskCommitmentLabel, from: seed, context: sessionID + u32(owner), outputByteCount: 32)
            .unsafeCopyToArray()
    }

    /// The pairwise mask PRG key of u and v: KDF(label "secagg/v2/pairwise-mask", key X25519(s_sk_u, s_pk_v),
    /// context session_id ‖ u32(min(u, v)) ‖ u32(max(u, v))). Both ends derive the same key.
    public static func pairwiseMaskKey(
        agreement: SharedSecret, sessionID: [UInt8], _ first: ParticipantIndex, _ second: ParticipantIndex
    ) -> SymmetricKey {
        agreement.deriveKey(
            label: pairwiseMaskLabel, context: sessionID + u32(min(first, second)) + u32(max(first, second)))
    }

    /// The bytes a client signs in the consistency check (SPEC §5.7):
    /// label("secagg/v2/consistency") ‖ session_id ‖ u32(|U3|) ‖ survivor_root.
    public static func consistencyMessage(sessionID: [UInt8], survivorCount: UInt32, survivorRoot: [UInt8]) -> [UInt8] {
        labelled(consistencyLabel, sessionID, u32(survivorCount), survivorRoot)
    }

    /// The sign of the pairwise mask u adds for neighbour v: + if u < v, − otherwise (Bonawitz et al. §4).
    public static func pairwiseDirection(owner: ParticipantIndex, neighbour: ParticipantIndex) -> MaskExpander.Direction {
        owner < neighbour ? .add : .subtract
    }
}
