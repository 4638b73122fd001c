import SecAggCrypto

/// An enrollment authority's endorsement of a client identity (SPEC §2.1, §5.1): an Ed25519 signature, by a key
/// kept offline and apart from the coordinator's online key, over label("secagg/v1/endorse") ‖ identity key. In
/// active mode a client configured with the authority's public key accepts a neighbour only with a valid one, so a
/// coordinator cannot invent clients.
public enum Endorsement {
    /// The 64-byte endorsement of `identity` by `authority`.
    public static func sign(_ identity: Ed25519.VerifyingKey, by authority: Ed25519.SigningKey) -> [UInt8] {
        authority.signature(for: Derivation.endorsementMessage(identityKey: identity.rawRepresentation)).rawRepresentation
    }

    /// Whether `endorsement` is `authority`'s valid endorsement of the identity key `identityKey` (32 bytes).
    public static func isValid(_ endorsement: [UInt8], of identityKey: [UInt8], by authority: Ed25519.VerifyingKey) -> Bool {
        guard let signature = try? Ed25519.Signature(rawRepresentation: endorsement) else { return false }
        return authority.isValidSignature(signature, for: Derivation.endorsementMessage(identityKey: identityKey))
    }
}
