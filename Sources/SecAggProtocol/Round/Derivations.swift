import SecAggCrypto
import SecAggWire

/// Every hash, KDF, signature input and associated-data string of the protocol, with its exact label
/// (SPEC §5). Keeping them in one place is what lets the spec list them exhaustively.
///
/// Conventions: `u32(x)` is 4 bytes big-endian; `label(L)` is one length byte followed by the ASCII label.
/// The session id binds every later derivation to one round.
public enum Derivation {
    public static let roundDigestLabel = "secagg/v1/round"
    public static let advertisementLabel = "secagg/v1/advertise"
    public static let endorsementLabel = "secagg/v1/endorse"
    public static let sessionLabel = "secagg/v1/session"
    public static let graphLabel = "secagg/v1/graph"
    public static let shareEncryptionLabel = "secagg/v1/share-encryption"
    public static let selfMaskLabel = "secagg/v1/self-mask"
    public static let selfMaskCommitmentLabel = "secagg/v1/self-mask-commitment"
    public static let pairwiseMaskLabel = "secagg/v1/pairwise-mask"
    public static let consistencyLabel = "secagg/v1/consistency"

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

    /// round_digest = BLAKE2b-256(label("secagg/v1/round") ‖ encode(RoundParameters)).
    public static func roundDigest(_ parameters: RoundParameters) -> [UInt8] {
        Blake2b.hash(labelled(roundDigestLabel, parameters.encoded))
    }

    /// The bytes a client signs to advertise its keys:
    /// label("secagg/v1/advertise") ‖ round_digest ‖ u32(index) ‖ c_pk ‖ s_pk.
    public static func advertisementMessage(
        roundDigest: [UInt8], index: ParticipantIndex, encryptionKey: [UInt8], maskingKey: [UInt8]
    ) -> [UInt8] {
        labelled(advertisementLabel, roundDigest, u32(index), encryptionKey, maskingKey)
    }

    /// The bytes an enrollment authority signs to vouch for an identity: label("secagg/v1/endorse") ‖ identity key.
    public static func endorsementMessage(identityKey: [UInt8]) -> [UInt8] {
        labelled(endorsementLabel, identityKey)
    }

    /// session_id = BLAKE2b-256(label("secagg/v1/session") ‖ round_digest ‖ u32(|U1|) ‖
    /// for each advertisement in increasing index order: u32(index) ‖ identity ‖ c_pk ‖ s_pk ‖ signature).
    public static func sessionID(roundDigest: [UInt8], advertisements: [KeyAdvertisement]) -> [UInt8] {
        var bytes = labelled(sessionLabel, roundDigest, u32(UInt32(advertisements.count)))
        bytes.reserveCapacity(bytes.count + advertisements.count * (4 + 3 * 32 + 64))
        for advertisement in advertisements {
            let index = advertisement.index
            bytes.append(UInt8(truncatingIfNeeded: index >> 24))
            bytes.append(UInt8(truncatingIfNeeded: index >> 16))
            bytes.append(UInt8(truncatingIfNeeded: index >> 8))
            bytes.append(UInt8(truncatingIfNeeded: index))
            bytes.append(contentsOf: advertisement.identityKey)
            bytes.append(contentsOf: advertisement.encryptionKey)
            bytes.append(contentsOf: advertisement.maskingKey)
            bytes.append(contentsOf: advertisement.signature)
        }
        return Blake2b.hash(bytes)
    }

    /// The public coin seeding the neighbour-graph labelling: KDF(label "secagg/v1/graph", key session_id, context empty).
    public static func graphSeed(sessionID: [UInt8]) -> [UInt8] {
        KDF.derive(label: graphLabel, from: SecureBytes(copying: sessionID), context: [], outputByteCount: 32)
            .unsafeCopyToArray()
    }

    /// Context and associated data binding a share ciphertext: session_id ‖ u32(sender) ‖ u32(recipient).
    public static func shareBinding(sessionID: [UInt8], sender: ParticipantIndex, recipient: ParticipantIndex) -> [UInt8] {
        sessionID + u32(sender) + u32(recipient)
    }

    /// The key encrypting `sender`'s share bundle for `recipient`:
    /// KDF(label "secagg/v1/share-encryption", key X25519(c_sk, c_pk'), context shareBinding).
    public static func shareEncryptionKey(
        agreement: SharedSecret, sessionID: [UInt8], sender: ParticipantIndex, recipient: ParticipantIndex
    ) -> SymmetricKey {
        agreement.deriveKey(
            label: shareEncryptionLabel, context: shareBinding(sessionID: sessionID, sender: sender, recipient: recipient))
    }

    /// The self-mask PRG key of `owner`: KDF(label "secagg/v1/self-mask", key b_u, context session_id ‖ u32(owner)).
    public static func selfMaskKey(seed: SecureBytes, sessionID: [UInt8], owner: ParticipantIndex) -> SymmetricKey {
        KDF.deriveKey(label: selfMaskLabel, from: seed, context: sessionID + u32(owner))
    }

    /// The commitment to b_u that lets the coordinator check its reconstruction:
    /// KDF(label "secagg/v1/self-mask-commitment", key b_u, context session_id ‖ u32(owner)), 32 bytes.
    public static func selfMaskCommitment(seed: SecureBytes, sessionID: [UInt8], owner: ParticipantIndex) -> [UInt8] {
        KDF.derive(label: selfMaskCommitmentLabel, from: seed, context: sessionID + u32(owner), outputByteCount: 32)
            .unsafeCopyToArray()
    }

    /// The pairwise mask PRG key of u and v: KDF(label "secagg/v1/pairwise-mask", key X25519(s_sk_u, s_pk_v),
    /// context session_id ‖ u32(min(u, v)) ‖ u32(max(u, v))). Both ends derive the same key.
    public static func pairwiseMaskKey(
        agreement: SharedSecret, sessionID: [UInt8], _ first: ParticipantIndex, _ second: ParticipantIndex
    ) -> SymmetricKey {
        agreement.deriveKey(
            label: pairwiseMaskLabel, context: sessionID + u32(min(first, second)) + u32(max(first, second)))
    }

    /// The bytes a client signs in the consistency check:
    /// label("secagg/v1/consistency") ‖ session_id ‖ u32(|U3|) ‖ u32(each member, increasing).
    public static func consistencyMessage(sessionID: [UInt8], survivors: [ParticipantIndex]) -> [UInt8] {
        var bytes = labelled(consistencyLabel, sessionID, u32(UInt32(survivors.count)))
        for index in survivors { bytes.append(contentsOf: u32(index)) }
        return bytes
    }

    /// The sign of the pairwise mask u adds for neighbour v: + if u < v, − otherwise (Bonawitz et al. §4).
    public static func pairwiseDirection(owner: ParticipantIndex, neighbour: ParticipantIndex) -> MaskExpander.Direction {
        owner < neighbour ? .add : .subtract
    }
}
