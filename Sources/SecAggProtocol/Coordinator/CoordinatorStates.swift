import SecAggCrypto
import SecAggMath
import SecAggWire

// One type per coordinator state (SPEC §8.2). Each `accept` validates a message completely before it mutates
// anything, so a rejected message leaves the state as it was.

/// An advertisement whose signature verified against the sender's enrolled identity.
struct AcceptedAdvertisement: Sendable {
    let advertisement: KeyAdvertisement
    let maskingKey: X25519.PublicKey
}

/// Phase 0: collecting signed key advertisements.
struct CollectingAdvertisements: Sendable {
    var received: [ParticipantIndex: AcceptedAdvertisement] = [:]

    mutating func accept(
        _ message: AdvertiseKeys, from sender: ParticipantIndex,
        roster: [ParticipantIndex: RosterEntry], roundDigest: [UInt8]
    ) throws(ProtocolViolation) {
        guard received[sender] == nil else { throw .duplicateMessage(phase: .advertiseKeys) }
        guard let entry = roster[sender] else { throw .notAParticipant(sender) }
        guard let encryptionKey = try? X25519.PublicKey(rawRepresentation: message.encryptionKey),
              let maskingKey = try? X25519.PublicKey(rawRepresentation: message.maskingKey) else {
            throw .invalidKey(owner: sender, what: "advertised")
        }
        guard message.encryptionKey != message.maskingKey else {
            throw .invalidKey(owner: sender, what: "advertised (encryption and masking keys are equal)")
        }
        // Reject keys on which X25519 yields the all-zero secret (low-order points) before anyone uses them.
        guard encryptionKey.isUsableForAgreement, maskingKey.isUsableForAgreement else {
            throw .invalidKey(owner: sender, what: "advertised (low-order point)")
        }
        guard let signature = try? Ed25519.Signature(rawRepresentation: message.signature),
              entry.identity.isValidSignature(signature, for: Derivation.advertisementMessage(
                roundDigest: roundDigest, index: sender,
                encryptionKey: message.encryptionKey, maskingKey: message.maskingKey)) else {
            throw .badSignature(signer: sender, what: "advertisement")
        }
        let advertisement = KeyAdvertisement(
            index: sender, identityKey: entry.identity.rawRepresentation, encryptionKey: message.encryptionKey,
            maskingKey: message.maskingKey, signature: message.signature, endorsement: entry.endorsement)
        received[sender] = AcceptedAdvertisement(advertisement: advertisement, maskingKey: maskingKey)
    }
}

/// Phase 1: collecting encrypted shares (routed, never opened) and self-mask commitments.
struct CollectingShares: Sendable {
    struct Submission: Sendable {
        let selfMaskCommitment: [UInt8]
        let shares: [EncryptedShare]
    }

    let context: SessionContext
    /// U1.
    let members: Set<ParticipantIndex>
    let maskingKeys: [ParticipantIndex: X25519.PublicKey]
    var received: [ParticipantIndex: Submission] = [:]

    mutating func accept(_ message: ShareKeys, from sender: ParticipantIndex) throws(ProtocolViolation) {
        guard members.contains(sender) else { throw .notAParticipant(sender) }
        guard received[sender] == nil else { throw .duplicateMessage(phase: .shareKeys) }
        // Exactly one bundle per neighbour in U1, from the sender, of the fixed sealed size.
        let neighbours = context.graph.neighbors(of: sender).filter { members.contains($0) }
        guard message.shares.map(\.recipient) == neighbours else {
            throw .inconsistentView(reason: "shares must address exactly the sender's \(neighbours.count) neighbours")
        }
        for share in message.shares {
            guard share.sender == sender else {
                throw .invalidShare(owner: sender, holder: share.recipient, reason: "sender field is \(share.sender)")
            }
            guard share.ciphertext.count == sealedBundleBytes else {
                throw .invalidShare(owner: sender, holder: share.recipient,
                                    reason: "ciphertext is \(share.ciphertext.count) bytes, expected \(sealedBundleBytes)")
            }
        }
        received[sender] = Submission(selfMaskCommitment: message.selfMaskCommitment, shares: message.shares)
    }
}

/// Phase 2: adding masked inputs into the running sum as they arrive.
struct CollectingMaskedInputs: Sendable {
    let context: SessionContext
    /// U2.
    let members: Set<ParticipantIndex>
    let maskingKeys: [ParticipantIndex: X25519.PublicKey]
    let commitments: [ParticipantIndex: [UInt8]]
    /// Σ y_u over `received`.
    var sum: ModularVector
    /// U3 so far.
    var received: Set<ParticipantIndex> = []

    init(
        context: SessionContext, members: Set<ParticipantIndex>, maskingKeys: [ParticipantIndex: X25519.PublicKey],
        commitments: [ParticipantIndex: [UInt8]]
    ) throws(VectorError) {
        self.context = context
        self.members = members
        self.maskingKeys = maskingKeys
        self.commitments = commitments
        sum = try ModularVector(zeros: Int(context.parameters.dimension), bits: Int(context.parameters.bits))
    }

    mutating func accept(_ message: MaskedInput, from sender: ParticipantIndex) throws(ProtocolViolation) {
        guard members.contains(sender) else { throw .notAParticipant(sender) }
        guard !received.contains(sender) else { throw .duplicateMessage(phase: .maskedInputCollection) }
        let vector: ModularVector
        do {
            vector = try ModularVector(
                decoding: message.vector, count: Int(context.parameters.dimension), bits: Int(context.parameters.bits))
        } catch {
            throw .invalidVector(reason: "\(error)")
        }
        do {
            try sum.add(vector)
        } catch {
            throw .invalidVector(reason: "\(error)")
        }
        received.insert(sender)
    }
}

/// Phase 3 (active mode): collecting signatures over U3.
struct CollectingSignatures: Sendable {
    let collected: CollectingMaskedInputs
    /// U3.
    let survivors: [ParticipantIndex]
    /// The commitment to U3 whose count and root every survivor signs.
    let tree: SurvivorTree
    let consistencyMessage: [UInt8]
    var signatures: [ParticipantIndex: [UInt8]] = [:]

    init(collected: CollectingMaskedInputs, survivors: [ParticipantIndex], tree: SurvivorTree) {
        self.collected = collected
        self.survivors = survivors
        self.tree = tree
        consistencyMessage = Derivation.consistencyMessage(
            sessionID: collected.context.sessionID, survivorCount: tree.survivorCount, survivorRoot: tree.root)
    }

    var members: Set<ParticipantIndex> { collected.received }

    mutating func accept(
        _ message: ConsistencyResponse, from sender: ParticipantIndex, roster: [ParticipantIndex: RosterEntry]
    ) throws(ProtocolViolation) {
        guard collected.received.contains(sender) else { throw .notAParticipant(sender) }
        guard signatures[sender] == nil else { throw .duplicateMessage(phase: .consistencyCheck) }
        guard let identity = roster[sender]?.identity,
              let signature = try? Ed25519.Signature(rawRepresentation: message.signature),
              identity.isValidSignature(signature, for: consistencyMessage) else {
            throw .badSignature(signer: sender, what: "consistency")
        }
        signatures[sender] = message.signature
    }
}

/// Phase 4: collecting revealed shares, then reconstructing and removing the masks.
struct CollectingUnmaskResponses: Sendable {
    let collected: CollectingMaskedInputs
    /// U3.
    let survivors: [ParticipantIndex]
    /// Who was asked to unmask.
    let recipients: Set<ParticipantIndex>
    let survivorSet: Set<ParticipantIndex>
    /// Members of U2 \ U3 with a neighbour in U3, and those neighbours: their masking keys must be rebuilt.
    let droppedWithSurvivingNeighbours: [(owner: ParticipantIndex, survivors: [ParticipantIndex])]
    private let neededMaskingKeys: Set<ParticipantIndex>
    var responded: Set<ParticipantIndex> = []
    var selfMaskShares: [ParticipantIndex: [ShamirShare]] = [:]
    var maskingKeyShares: [ParticipantIndex: [ShamirShare]] = [:]
    /// How many secrets that must be rebuilt still have fewer than t shares (kept current on every response).
    private var lacking: Int

    init(collected: CollectingMaskedInputs, survivors: [ParticipantIndex], recipients: Set<ParticipantIndex>) {
        self.collected = collected
        self.survivors = survivors
        self.recipients = recipients
        let survivorSet = Set(survivors)
        self.survivorSet = survivorSet
        let graph = collected.context.graph
        droppedWithSurvivingNeighbours = collected.members.subtracting(survivorSet).sorted().compactMap { owner in
            let surviving = graph.neighbors(of: owner).filter { survivorSet.contains($0) }
            return surviving.isEmpty ? nil : (owner, surviving)
        }
        neededMaskingKeys = Set(droppedWithSurvivingNeighbours.map(\.owner))
        lacking = survivors.count + neededMaskingKeys.count
    }

    mutating func accept(_ message: UnmaskResponse, from sender: ParticipantIndex) throws(ProtocolViolation) {
        guard recipients.contains(sender) else { throw .notAParticipant(sender) }
        guard !responded.contains(sender) else { throw .duplicateMessage(phase: .unmasking) }
        let context = collected.context
        // The sender may only reveal shares of its neighbours in U2, of the kind that owner's status calls for.
        var accepted: [(owner: ParticipantIndex, kind: ShareKind, share: ShamirShare)] = []
        for revealed in message.shares {
            let owner = revealed.owner
            guard owner != sender, collected.members.contains(owner), context.graph.areNeighbors(owner, sender) else {
                throw .invalidShare(owner: owner, holder: sender, reason: "the holder is not the owner's neighbour in U2")
            }
            let expectedKind: ShareKind = survivorSet.contains(owner) ? .selfMask : .maskingKey
            guard revealed.kind == expectedKind else {
                throw .invalidShare(owner: owner, holder: sender, reason: "revealed \(revealed.kind), expected \(expectedKind)")
            }
            guard let share = try? ShamirShare(x: sender, encoded: revealed.share),
                  share.values.count == encodedSecretShareBytes / 8 else {
                throw .invalidShare(owner: owner, holder: sender, reason: "malformed share")
            }
            accepted.append((owner, revealed.kind, share))
        }
        let threshold = context.threshold
        for entry in accepted {
            let count: Int
            switch entry.kind {
            case .selfMask:
                selfMaskShares[entry.owner, default: []].append(entry.share)
                count = selfMaskShares[entry.owner]?.count ?? 0
            case .maskingKey:
                maskingKeyShares[entry.owner, default: []].append(entry.share)
                count = neededMaskingKeys.contains(entry.owner) ? maskingKeyShares[entry.owner]?.count ?? 0 : 0
            }
            // Decoders allow one share per owner in a response and each holder responds once, so a secret
            // reaches t exactly once.
            if count == threshold { lacking -= 1 }
        }
        responded.insert(sender)
    }

    /// Every secret that must be reconstructed already has at least t shares.
    var hasEnoughShares: Bool { lacking <= 0 }

    struct Unmasked {
        var sum: ModularVector
        var inconsistentHolders: [ParticipantIndex: [ParticipantIndex]]
    }

    /// One secret's reconstruction: the masks it lets the coordinator remove, and holders whose shares lay off the
    /// accepted polynomial.
    private struct Rebuilt: Sendable {
        var masks: [(key: SymmetricKey, direction: MaskExpander.Direction)]
        var inconsistentHolders: [ParticipantIndex]
    }

    /// Removes every self mask of U3 and every pairwise mask between U3 and the dropped members of U2.
    ///
    /// The secrets are rebuilt, and the masks expanded, on up to `workers` threads; the result does not depend on
    /// `workers` (the masks are removed modulo 2^bits, in any order). A failure names the first secret, in the
    /// order of SPEC §8.5, that could not be rebuilt.
    func reconstructSum(workers: Int = 1) -> Result<Unmasked, AbortReason> {
        let jobCount = survivors.count + droppedWithSurvivingNeighbours.count
        let rebuilt = Parallel.map(count: jobCount, workers: workers) { job in
            job < survivors.count
                ? rebuildSelfMask(of: survivors[job])
                : rebuildMaskingKey(droppedWithSurvivingNeighbours[job - survivors.count])
        }
        var inconsistent: [ParticipantIndex: [ParticipantIndex]] = [:]
        var masks: [(key: SymmetricKey, direction: MaskExpander.Direction)] = []
        for (job, outcome) in rebuilt.enumerated() {
            switch outcome {
            case let .failure(reason):
                return .failure(reason)
            case let .success(secret):
                masks += secret.masks
                if !secret.inconsistentHolders.isEmpty {
                    let owner = job < survivors.count
                        ? survivors[job] : droppedWithSurvivingNeighbours[job - survivors.count].owner
                    inconsistent[owner] = secret.inconsistentHolders
                }
            }
        }
        let allMasks = masks
        var sum = collected.sum
        // Each worker expands its share of the masks into its own partial vector (O(workers · dimension) memory);
        // the partials are then folded into the sum. One worker removes the masks from the sum directly.
        let partialCount = min(max(1, workers), masks.count)
        if partialCount <= 1 {
            sum.applyMasks(masks.map { ($0.key, $0.direction) })
        } else {
            let bits = sum.bits
            let dimension = sum.count
            let partials = Parallel.map(count: partialCount, workers: partialCount) { worker -> ModularVector? in
                guard var partial = try? ModularVector(zeros: dimension, bits: bits) else { return nil }
                partial.applyMasks(stride(from: worker, to: allMasks.count, by: partialCount).map {
                    (allMasks[$0].key, allMasks[$0].direction)
                })
                return partial
            }
            for partial in partials {
                guard let partial, (try? sum.add(partial)) != nil else {
                    return .failure(AbortReason(.reconstructionFailed, "cannot allocate a partial sum"))
                }
            }
        }
        return .success(Unmasked(sum: sum, inconsistentHolders: inconsistent))
    }

    /// Rebuilds b_owner from the self-mask shares, checked against its commitment (SPEC §8.5 step 1).
    private func rebuildSelfMask(of owner: ParticipantIndex) -> Result<Rebuilt, AbortReason> {
        let context = collected.context
        let threshold = context.threshold
        let shares = selfMaskShares[owner] ?? []
        guard shares.count >= threshold else {
            return .failure(AbortReason(.reconstructionFailed,
                "only \(shares.count) shares of the self-mask seed of participant \(owner), threshold is \(threshold)"))
        }
        guard let commitment = collected.commitments[owner],
              let (seed, bad) = try? Shamir.robustCombine(
                shares, threshold: threshold, secretByteCount: 32,
                isValid: { constantTimeEquals(
                    Derivation.selfMaskCommitment(seed: $0, sessionID: context.sessionID, owner: owner), commitment) })
        else {
            return .failure(AbortReason(.reconstructionFailed,
                "the self-mask seed of participant \(owner) does not match its commitment"))
        }
        let key = Derivation.selfMaskKey(seed: seed, sessionID: context.sessionID, owner: owner)
        return .success(Rebuilt(masks: [(key, .subtract)], inconsistentHolders: bad))
    }

    /// Rebuilds the masking key of a dropped member of U2, checked against its advertised key, and derives the
    /// pairwise masks its surviving neighbours added (SPEC §8.5 step 2).
    private func rebuildMaskingKey(
        _ dropped: (owner: ParticipantIndex, survivors: [ParticipantIndex])
    ) -> Result<Rebuilt, AbortReason> {
        let context = collected.context
        let threshold = context.threshold
        let owner = dropped.owner
        let shares = maskingKeyShares[owner] ?? []
        guard shares.count >= threshold else {
            return .failure(AbortReason(.reconstructionFailed,
                "only \(shares.count) shares of the masking key of dropped participant \(owner), threshold is \(threshold)"))
        }
        guard let publicKey = collected.maskingKeys[owner],
              let (secret, bad) = try? Shamir.robustCombine(
                shares, threshold: threshold, secretByteCount: 32,
                isValid: { candidate in
                    guard let key = try? X25519.PrivateKey(rawRepresentation: candidate) else { return false }
                    return key.publicKey == publicKey
                }),
              let maskingKey = try? X25519.PrivateKey(rawRepresentation: secret)
        else {
            return .failure(AbortReason(.reconstructionFailed,
                "the masking key of dropped participant \(owner) does not match its advertised key"))
        }
        var masks: [(key: SymmetricKey, direction: MaskExpander.Direction)] = []
        for survivor in dropped.survivors {
            guard let survivorKey = collected.maskingKeys[survivor],
                  let agreement = try? maskingKey.sharedSecret(with: survivorKey) else {
                return .failure(AbortReason(.reconstructionFailed,
                    "cannot agree the pairwise mask of participants \(owner) and \(survivor)"))
            }
            let key = Derivation.pairwiseMaskKey(agreement: agreement, sessionID: context.sessionID, owner, survivor)
            // The survivor added its mask for `owner` with this direction; take it out again.
            let added = Derivation.pairwiseDirection(owner: survivor, neighbour: owner)
            masks.append((key, added == .add ? .subtract : .add))
        }
        return .success(Rebuilt(masks: masks, inconsistentHolders: bad))
    }
}

extension X25519.PublicKey {
    /// False for the small-order points on which X25519 gives the all-zero secret.
    var isUsableForAgreement: Bool {
        (try? lowOrderProbe.sharedSecret(with: self)) != nil
    }
}

/// A constant, public, non-secret scalar used only to test whether a public key is of small order (clamping makes
/// every scalar a multiple of the cofactor, so any scalar maps a small-order point to the identity).
private let lowOrderProbe: X25519.PrivateKey = {
    var source = FixedProbe()
    return X25519.PrivateKey(using: &source)
}()

private struct FixedProbe: RandomSource {
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for position in buffer.indices { buffer[position] = UInt8(truncatingIfNeeded: 0x5a &+ position) }
    }
}
