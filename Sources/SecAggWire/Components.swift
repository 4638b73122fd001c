/// Building blocks shared by several messages (SPEC §4.1).

/// A client's advertised round keys, as relayed by the coordinator in ``ShareKeysRequest``.
///
/// Unverified: the receiving client checks `signature` (and `endorsement`, if its policy requires one)
/// before using any key.
public struct KeyAdvertisement: Sendable, Hashable {
    /// The advertiser's participant index.
    public var index: ParticipantIndex
    /// The advertiser's long-term Ed25519 identity key (as enrolled with the coordinator).
    public var identityKey: [UInt8]
    /// X25519 key for encrypting shares to the advertiser (c_pk).
    public var encryptionKey: [UInt8]
    /// X25519 key for agreeing pairwise mask seeds (s_pk).
    public var maskingKey: [UInt8]
    /// Ed25519 signature by `identityKey` over the advertisement (SPEC §5.1).
    public var signature: [UInt8]
    /// Empty, or a 64-byte Ed25519 signature by the enrollment authority over `identityKey` (SPEC §5.1).
    public var endorsement: [UInt8]

    public init(
        index: ParticipantIndex, identityKey: [UInt8], encryptionKey: [UInt8], maskingKey: [UInt8],
        signature: [UInt8], endorsement: [UInt8] = []
    ) {
        self.index = index
        self.identityKey = identityKey
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.signature = signature
        self.endorsement = endorsement
    }
}

extension KeyAdvertisement: WireEncodable, WireDecodable {
    /// Encoded size without an endorsement.
    static let minimumEncodedBytes = 4 + 32 * 3 + 64 + 1

    public func encode(into writer: inout WireWriter) {
        writer.write(index)
        writer.writeFixed(identityKey)
        writer.writeFixed(encryptionKey)
        writer.writeFixed(maskingKey)
        writer.writeFixed(signature)
        writer.writeOpaque(endorsement, prefixBytes: 1)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        index = try reader.readParticipantIndex(field: "advertisement.index")
        identityKey = try reader.readFixed(WireLimits.publicKeyBytes)
        encryptionKey = try reader.readFixed(WireLimits.publicKeyBytes)
        maskingKey = try reader.readFixed(WireLimits.publicKeyBytes)
        signature = try reader.readFixed(WireLimits.signatureBytes)
        endorsement = try reader.readOpaque(prefixBytes: 1, maximum: WireLimits.signatureBytes, field: "endorsement")
        guard endorsement.isEmpty || endorsement.count == WireLimits.signatureBytes else {
            throw .invalidValue(field: "endorsement", reason: "must be empty or 64 bytes")
        }
    }
}

/// One encrypted share bundle from `sender` to `recipient` (SPEC §5.2).
public struct EncryptedShare: Sendable, Hashable {
    public var sender: ParticipantIndex
    public var recipient: ParticipantIndex
    /// ChaCha20-Poly1305 ciphertext and tag of the ``ShareBundle``.
    public var ciphertext: [UInt8]

    public init(sender: ParticipantIndex, recipient: ParticipantIndex, ciphertext: [UInt8]) {
        self.sender = sender
        self.recipient = recipient
        self.ciphertext = ciphertext
    }
}

extension EncryptedShare: WireEncodable, WireDecodable {
    static let minimumEncodedBytes = 4 + 4 + 2

    public func encode(into writer: inout WireWriter) {
        writer.write(sender)
        writer.write(recipient)
        writer.writeOpaque(ciphertext, prefixBytes: 2)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        sender = try reader.readParticipantIndex(field: "share.sender")
        recipient = try reader.readParticipantIndex(field: "share.recipient")
        ciphertext = try reader.readOpaque(
            prefixBytes: 2, maximum: WireLimits.maximumCiphertextBytes, field: "share.ciphertext")
    }
}

/// The plaintext inside an ``EncryptedShare``: the owner's Shamir shares of its self-mask seed and of its
/// masking private key, for one holder (SPEC §5.2).
public struct ShareBundle: Sendable, Hashable {
    public var owner: ParticipantIndex
    public var holder: ParticipantIndex
    public var selfMaskShare: [UInt8]
    public var maskingKeyShare: [UInt8]

    public init(owner: ParticipantIndex, holder: ParticipantIndex, selfMaskShare: [UInt8], maskingKeyShare: [UInt8]) {
        self.owner = owner
        self.holder = holder
        self.selfMaskShare = selfMaskShare
        self.maskingKeyShare = maskingKeyShare
    }
}

extension ShareBundle: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        writer.write(owner)
        writer.write(holder)
        writer.writeOpaque(selfMaskShare, prefixBytes: 2)
        writer.writeOpaque(maskingKeyShare, prefixBytes: 2)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        owner = try reader.readParticipantIndex(field: "bundle.owner")
        holder = try reader.readParticipantIndex(field: "bundle.holder")
        selfMaskShare = try reader.readOpaque(prefixBytes: 2, maximum: WireLimits.maximumShareBytes, field: "bundle.selfMaskShare")
        maskingKeyShare = try reader.readOpaque(
            prefixBytes: 2, maximum: WireLimits.maximumShareBytes, field: "bundle.maskingKeyShare")
    }
}

/// Which of a neighbour's two secrets a revealed share belongs to.
public enum ShareKind: UInt8, Sendable, Hashable {
    /// A share of the self-mask seed b_v (revealed for neighbours that survived).
    case selfMask = 0
    /// A share of the masking private key s_sk_v (revealed for neighbours that dropped).
    case maskingKey = 1
}

/// A share revealed to the coordinator during Unmasking.
public struct RevealedShare: Sendable, Hashable {
    /// The participant whose secret this is a share of.
    public var owner: ParticipantIndex
    public var kind: ShareKind
    /// The encoded Shamir share.
    public var share: [UInt8]

    public init(owner: ParticipantIndex, kind: ShareKind, share: [UInt8]) {
        self.owner = owner
        self.kind = kind
        self.share = share
    }
}

extension RevealedShare: WireEncodable, WireDecodable {
    static let minimumEncodedBytes = 4 + 1 + 2

    public func encode(into writer: inout WireWriter) {
        writer.write(owner)
        writer.write(kind.rawValue)
        writer.writeOpaque(share, prefixBytes: 2)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        owner = try reader.readParticipantIndex(field: "revealed.owner")
        let code = try reader.readUInt8()
        guard let decodedKind = ShareKind(rawValue: code) else {
            throw .invalidValue(field: "revealed.kind", reason: "unknown share kind \(code)")
        }
        kind = decodedKind
        share = try reader.readOpaque(prefixBytes: 2, maximum: WireLimits.maximumShareBytes, field: "revealed.share")
    }
}

/// A survivor's signature over the survivor set, relayed in an active-mode ``UnmaskRequest``.
public struct ConsistencySignature: Sendable, Hashable {
    public var index: ParticipantIndex
    public var signature: [UInt8]

    public init(index: ParticipantIndex, signature: [UInt8]) {
        self.index = index
        self.signature = signature
    }
}

extension ConsistencySignature: WireEncodable, WireDecodable {
    static let encodedBytes = 4 + 64

    public func encode(into writer: inout WireWriter) {
        writer.write(index)
        writer.writeFixed(signature)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        index = try reader.readParticipantIndex(field: "consistency.index")
        signature = try reader.readFixed(WireLimits.signatureBytes)
    }
}

/// A list of 32-byte digests, stored contiguously: a Merkle proof (SPEC §4.1.8, §5.13). One allocation however
/// long the list, since a coordinator keeps one per client in memory at once.
public struct DigestList: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral {
    /// Bytes per digest.
    public static let digestByteCount = 32

    /// The digests, concatenated.
    public private(set) var bytes: [UInt8]

    /// An empty list.
    public init() { bytes = [] }

    /// The list of `digests`.
    ///
    /// - Precondition: every digest has 32 bytes.
    public init(_ digests: some Sequence<[UInt8]>) {
        bytes = []
        for digest in digests { append(digest) }
    }

    /// The list of the literal's digests.
    ///
    /// - Precondition: every digest has 32 bytes.
    public init(arrayLiteral digests: [UInt8]...) {
        self.init(digests)
    }

    /// The list whose digests are `bytes` cut in 32-byte pieces.
    ///
    /// - Precondition: `bytes.count` is a multiple of 32.
    public init(concatenated bytes: [UInt8]) {
        precondition(bytes.count % Self.digestByteCount == 0, "a digest list holds whole 32-byte digests")
        self.bytes = bytes
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count / Self.digestByteCount }

    /// Digest `position` (get and set).
    ///
    /// - Precondition: a digest set has 32 bytes.
    public subscript(position: Int) -> [UInt8] {
        get { Array(bytes[position * Self.digestByteCount..<(position + 1) * Self.digestByteCount]) }
        set {
            precondition(newValue.count == Self.digestByteCount, "a digest has 32 bytes")
            bytes.replaceSubrange(position * Self.digestByteCount..<(position + 1) * Self.digestByteCount, with: newValue)
        }
    }

    /// Appends a digest.
    ///
    /// - Precondition: `digest` has 32 bytes.
    public mutating func append(_ digest: [UInt8]) {
        precondition(digest.count == Self.digestByteCount, "a digest has 32 bytes")
        bytes.append(contentsOf: digest)
    }
}

/// What one participant learns of the survivor set U3 (SPEC §4.1.9): its size, the root of the survivor tree,
/// and the status of the participant and of each of its neighbours (by increasing ring position) with their proof.
public struct SurvivorView: Sendable, Hashable {
    /// |U3|.
    public var survivorCount: UInt32
    /// Root of the survivor tree (32 bytes).
    public var survivorRoot: [UInt8]
    /// One entry per proven slot, in increasing ring position: true if that participant is in U3.
    public var statuses: [Bool]
    /// Multiproof of the proven slots.
    public var proof: DigestList

    public init(survivorCount: UInt32, survivorRoot: [UInt8], statuses: [Bool], proof: DigestList) {
        self.survivorCount = survivorCount
        self.survivorRoot = survivorRoot
        self.statuses = statuses
        self.proof = proof
    }
}

extension SurvivorView: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        writer.write(survivorCount)
        writer.writeFixed(survivorRoot)
        writer.writeOpaque(statuses.map { $0 ? 1 : 0 }, prefixBytes: 4)
        writer.writeDigestList(proof)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        survivorCount = try reader.readUInt32()
        survivorRoot = try reader.readFixed(WireLimits.digestBytes)
        // One status per proven slot: at most every invited participant (a complete graph of 10^6).
        let bytes = try reader.readOpaque(
            prefixBytes: 4, maximum: WireLimits.maximumParticipants, field: "survivors.statuses")
        var statuses: [Bool] = []
        statuses.reserveCapacity(bytes.count)
        for byte in bytes {
            guard byte <= 1 else {
                throw .invalidValue(field: "survivors.statuses", reason: "a status is 0 or 1, got \(byte)")
            }
            statuses.append(byte == 1)
        }
        self.statuses = statuses
        proof = try reader.readDigestList(field: "survivors.proof")
    }
}

extension WireReader {
    /// Reads a list of 32-byte digests (a Merkle proof, SPEC §4.1.8): the count is bounded before anything is
    /// read, as for every list.
    mutating func readDigestList(field: String) throws(WireError) -> DigestList {
        let count = Int(try readUInt32())
        guard count <= WireLimits.maximumParticipants else {
            throw .lengthExceedsMaximum(field: field, length: count, maximum: WireLimits.maximumParticipants)
        }
        guard count <= remaining / WireLimits.digestBytes else {
            throw .truncated(offset: offset, needed: count * WireLimits.digestBytes)
        }
        return DigestList(concatenated: try readFixed(count * WireLimits.digestBytes))
    }

    /// Reads a participant index, rejecting 0.
    public mutating func readParticipantIndex(field: String) throws(WireError) -> ParticipantIndex {
        let index = try readUInt32()
        guard index != 0 else { throw .invalidValue(field: field, reason: "participant index 0 is reserved") }
        return index
    }

    /// Reads a list of participant indices that must be strictly increasing (the canonical form of a set).
    mutating func readIndexSet(field: String) throws(WireError) -> [ParticipantIndex] {
        let indices = try readList(maximum: WireLimits.maximumParticipants, minimumElementBytes: 4, field: field) {
            (reader: inout WireReader) throws(WireError) in try reader.readParticipantIndex(field: field)
        }
        try requireStrictlyIncreasing(indices, field: field)
        return indices
    }
}

/// Fails unless `keys` is strictly increasing: sets travel sorted, without duplicates, so each has one encoding.
func requireStrictlyIncreasing(_ keys: [UInt32], field: String) throws(WireError) {
    for position in keys.indices.dropFirst() where keys[position - 1] >= keys[position] {
        throw .invalidValue(field: field, reason: "entries must be strictly increasing (duplicate or unsorted \(keys[position]))")
    }
}

extension WireWriter {
    /// Writes a list of 32-byte digests: u32 count, then the digests.
    mutating func writeDigestList(_ digests: DigestList) {
        write(UInt32(digests.count))
        writeFixed(digests.bytes)
    }

    /// Writes a set of participant indices (caller passes it sorted and unique).
    mutating func writeIndexSet(_ indices: [ParticipantIndex]) {
        writeList(indices) { writer, index in writer.write(index) }
    }
}
