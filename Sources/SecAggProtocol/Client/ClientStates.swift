import SecAggCrypto
import SecAggMath
import SecAggPrivacy
import SecAggWire

// One type per client state (SPEC §8.1). Each `handle` validates its input completely before building the
// next state, so a throw leaves the machine untouched.

/// Waiting for the coordinator's invitation (``AdvertiseKeysRequest``).
struct AwaitingInvitation: Sendable {
    /// The input as given: plain values, or lanes already in Z_{2^bits}.
    enum Input: Sendable {
        case values([UInt64])
        case lanes(ModularVector)

        var count: Int {
            switch self {
            case let .values(values): return values.count
            case let .lanes(vector): return vector.count
            }
        }

        /// The first entry above `maximum`, if any.
        func firstIndex(above maximum: UInt64) -> Int? {
            switch self {
            case let .values(values): return values.firstIndex { $0 > maximum }
            case let .lanes(vector): return (0..<vector.count).first { vector[$0] > maximum }
            }
        }

        /// The input as lanes of `bits`, or nil if an entry does not fit.
        func lanes(bits: Int) -> ModularVector? {
            switch self {
            case let .values(values): return try? ModularVector(values: values, bits: bits)
            case let .lanes(vector): return vector.bits == bits ? vector : try? ModularVector(values: vector.values, bits: bits)
            }
        }
    }

    let input: Input

    func handle(
        _ request: AdvertiseKeysRequest, configuration: ClientConfiguration, random: inout some RandomSource
    ) -> Transition {
        let parameters = request.parameters
        let index = request.participant
        if let refusal = refusal(of: request, configuration: configuration) {
            return .abort(roundID: parameters.roundID, participant: index, .parametersRejected, refusal)
        }
        let encryptionKey = X25519.PrivateKey(using: &random)
        let maskingKey = X25519.PrivateKey(using: &random)
        let digest = Derivation.roundDigest(parameters)
        let signed = Derivation.advertisementMessage(
            roundDigest: digest, index: index,
            encryptionKey: encryptionKey.publicKey.rawRepresentation, maskingKey: maskingKey.publicKey.rawRepresentation)
        let signature = configuration.identity.signature(for: signed)
        // Keep the input in its compact lane form (4 bytes per entry for bits ≤ 32) from here on.
        guard let compactInput = input.lanes(bits: Int(parameters.bits)) else {
            return .abort(roundID: parameters.roundID, participant: index, .parametersRejected, "input does not fit 2^bits")
        }
        let next = AdvertisedKeys(
            parameters: parameters, index: index, roundDigest: digest, input: compactInput,
            encryptionKey: encryptionKey, maskingKey: maskingKey)
        let message = AdvertiseKeys(
            roundID: parameters.roundID, encryptionKey: encryptionKey.publicKey.rawRepresentation,
            maskingKey: maskingKey.publicKey.rawRepresentation, signature: signature.rawRepresentation)
        return Transition(next: .advertised(next), actions: [.send(.advertiseKeys(message))])
    }

    /// Why the client will not join, or nil. Covers parameter sanity, the client's own policy, and the input.
    private func refusal(of request: AdvertiseKeysRequest, configuration: ClientConfiguration) -> String? {
        let parameters = request.parameters
        do {
            try parameters.validate()
        } catch {
            return error.description
        }
        guard request.participant >= 1, request.participant <= parameters.invitedCount else {
            return "participant index \(request.participant) outside 1...\(parameters.invitedCount)"
        }
        guard parameters.threshold >= configuration.policy.minimumThreshold else {
            return "threshold \(parameters.threshold) below this client's minimum \(configuration.policy.minimumThreshold)"
        }
        guard parameters.minimumSurvivors >= configuration.policy.minimumSurvivors else {
            return "minimum survivors \(parameters.minimumSurvivors) below this client's minimum \(configuration.policy.minimumSurvivors)"
        }
        if configuration.policy.requireActiveMode, parameters.mode != .active {
            return "this client only joins active-mode rounds"
        }
        if case let .distributed(local) = parameters.noise {
            do {
                _ = try DiscreteGaussian(sigmaSquared: try Rational(local.numerator, local.denominator))
            } catch {
                return "unusable noise variance: \(error)"
            }
        }
        if let minimum = configuration.policy.minimumLocalNoise {
            guard case let .distributed(local) = parameters.noise,
                  UInt128(local.numerator) * UInt128(minimum.denominator)
                    >= UInt128(minimum.numerator) * UInt128(local.denominator) else {
                return "this client adds at least \(minimum.numerator)/\(minimum.denominator) of noise variance itself"
            }
        }
        guard input.count == Int(parameters.dimension) else {
            return "input has \(input.count) entries, the round needs \(parameters.dimension)"
        }
        if let position = input.firstIndex(above: parameters.maximumInput) {
            return "input entry \(position) exceeds the round's maximum \(parameters.maximumInput)"
        }
        return nil
    }
}

/// Keys advertised; waiting for everybody's advertisements (``ShareKeysRequest``).
struct AdvertisedKeys: Sendable {
    let parameters: RoundParameters
    let index: ParticipantIndex
    let roundDigest: [UInt8]
    let input: ModularVector
    let encryptionKey: X25519.PrivateKey
    let maskingKey: X25519.PrivateKey

    func handle(
        _ request: ShareKeysRequest, configuration: ClientConfiguration, random: inout some RandomSource
    ) throws(ClientError) -> Transition {
        guard request.roundID == parameters.roundID else {
            throw .coordinatorViolation(.wrongRound(expected: parameters.roundID, actual: request.roundID))
        }
        guard request.advertisedCount <= parameters.invitedCount else {
            throw .coordinatorViolation(.inconsistentView(reason: "advertised count beyond the invited count"))
        }
        let context: SessionContext
        do {
            context = try SessionContext(
                parameters: parameters, roundDigest: roundDigest, advertisedCount: request.advertisedCount,
                advertisementRoot: request.advertisementRoot)
        } catch {
            throw .coordinatorViolation(.inconsistentView(reason: "cannot build the neighbour graph: \(error)"))
        }
        // Only this client's neighbourhood: its own and its neighbours' advertisements, proven against the root
        // that the session id binds (SPEC §4.4, §5.13).
        let graphNeighbours = context.graph.neighbors(of: index)
        let listed: [ParticipantIndex: KeyAdvertisement]
        do {
            listed = try AdvertisementTree.verify(
                request, recipient: index, neighbours: graphNeighbours, invitedCount: Int(parameters.invitedCount))
        } catch {
            throw .coordinatorViolation(error)
        }
        guard let own = listed[index] else {
            throw .coordinatorViolation(.inconsistentView(reason: "own advertisement missing from U1"))
        }
        guard own.identityKey == configuration.identity.verifyingKey.rawRepresentation,
              own.encryptionKey == encryptionKey.publicKey.rawRepresentation,
              own.maskingKey == maskingKey.publicKey.rawRepresentation else {
            throw .coordinatorViolation(.inconsistentView(reason: "own advertisement was altered"))
        }
        if Int(request.advertisedCount) < context.requiredSurvivors {
            return .abort(roundID: parameters.roundID, participant: index, .tooFewAdvertised,
                          "\(request.advertisedCount) clients advertised keys, the round needs \(context.requiredSurvivors)")
        }
        // N(u) ∩ U1: neighbours proven absent from U1 are dropped neighbours (SPEC §7.3).
        let neighbourIndices = graphNeighbours.filter { listed[$0] != nil }
        if neighbourIndices.count < context.threshold {
            return .abort(roundID: parameters.roundID, participant: index, .tooFewNeighbours,
                          "\(neighbourIndices.count) neighbours advertised keys, threshold is \(context.threshold)")
        }
        // Verify every neighbour's advertisement before using any of its keys.
        var neighbours: [ParticipantIndex: VerifiedNeighbour] = [:]
        for neighbourIndex in neighbourIndices {
            guard let advertisement = listed[neighbourIndex] else { continue }
            neighbours[neighbourIndex] = try VerifiedNeighbour(
                advertisement, roundDigest: roundDigest, authority: configuration.policy.enrollmentAuthority)
        }

        // Draw b_u and share it and the masking key among the neighbours (x = their indices).
        let selfMaskSeed = SecureBytes(randomCount: 32, using: &random)
        let recipients = neighbourIndices
        let selfMaskShares: [ShamirShare]
        let maskingKeyShares: [ShamirShare]
        do {
            selfMaskShares = try Shamir.split(
                selfMaskSeed, threshold: context.threshold, xCoordinates: recipients, using: &random)
            maskingKeyShares = try Shamir.split(
                maskingKey.rawRepresentation, threshold: context.threshold, xCoordinates: recipients, using: &random)
        } catch {
            return .abort(roundID: parameters.roundID, participant: index, .parametersRejected, "cannot share secrets: \(error)")
        }
        var sealed: [EncryptedShare] = []
        sealed.reserveCapacity(recipients.count)
        // One agreement per neighbour serves both directions: the key for our bundle to it, and the key for its
        // bundle to us (derived now, so that the MaskedInputRequest needs no second agreement).
        var openingKeys: [ParticipantIndex: SymmetricKey] = [:]
        for (position, recipient) in recipients.enumerated() {
            guard let neighbour = neighbours[recipient] else { continue }
            let agreement: SharedSecret
            do {
                agreement = try encryptionKey.sharedSecret(with: neighbour.encryptionKey)
            } catch {
                throw .coordinatorViolation(.invalidKey(owner: recipient, what: "encryption"))
            }
            let key = Derivation.shareEncryptionKey(
                agreement: agreement, sessionID: context.sessionID, sender: index, recipient: recipient)
            openingKeys[recipient] = Derivation.shareEncryptionKey(
                agreement: agreement, sessionID: context.sessionID, sender: recipient, recipient: index)
            let bundle = ShareBundle(
                owner: index, holder: recipient,
                selfMaskShare: selfMaskShares[position].encoded, maskingKeyShare: maskingKeyShares[position].encoded)
            let plaintext = SecureBytes(copying: bundle.encoded)
            let binding = Derivation.shareBinding(sessionID: context.sessionID, sender: index, recipient: recipient)
            guard let ciphertext = try? ChaChaPoly.seal(
                plaintext, using: key, nonce: Derivation.zeroNonce, authenticating: binding) else {
                preconditionFailure("the zero nonce has the AEAD's nonce length")
            }
            sealed.append(EncryptedShare(sender: index, recipient: recipient, ciphertext: ciphertext))
        }
        let commitment = Derivation.selfMaskCommitment(seed: selfMaskSeed, sessionID: context.sessionID, owner: index)
        let next = SharedKeys(
            context: context, index: index, input: input, maskingKey: maskingKey,
            selfMaskSeed: selfMaskSeed, neighbours: neighbours, openingKeys: openingKeys)
        let message = ShareKeys(roundID: parameters.roundID, selfMaskCommitment: commitment, shares: sealed)
        return Transition(next: .shared(next), actions: [.send(.shareKeys(message))])
    }
}

extension [KeyAdvertisement] {
    /// The advertisement of `index` in a list sorted by strictly increasing index.
    func binarySearch(index: ParticipantIndex) -> KeyAdvertisement? {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if self[middle].index < index { low = middle + 1 } else { high = middle }
        }
        return low < endIndex && self[low].index == index ? self[low] : nil
    }
}

/// A neighbour whose advertisement signature (and endorsement, when required) verified.
struct VerifiedNeighbour: Sendable {
    let index: ParticipantIndex
    let identity: Ed25519.VerifyingKey
    let encryptionKey: X25519.PublicKey
    let maskingKey: X25519.PublicKey

    init(
        _ advertisement: KeyAdvertisement, roundDigest: [UInt8], authority: Ed25519.VerifyingKey?
    ) throws(ClientError) {
        let index = advertisement.index
        guard let identity = try? Ed25519.VerifyingKey(rawRepresentation: advertisement.identityKey),
              let encryptionKey = try? X25519.PublicKey(rawRepresentation: advertisement.encryptionKey),
              let maskingKey = try? X25519.PublicKey(rawRepresentation: advertisement.maskingKey),
              let signature = try? Ed25519.Signature(rawRepresentation: advertisement.signature) else {
            throw .coordinatorViolation(.invalidKey(owner: index, what: "advertised"))
        }
        let signed = Derivation.advertisementMessage(
            roundDigest: roundDigest, index: index,
            encryptionKey: advertisement.encryptionKey, maskingKey: advertisement.maskingKey)
        guard identity.isValidSignature(signature, for: signed) else {
            throw .coordinatorViolation(.badSignature(signer: index, what: "advertisement"))
        }
        if let authority, !Endorsement.isValid(advertisement.endorsement, of: advertisement.identityKey, by: authority) {
            throw .coordinatorViolation(.badSignature(signer: index, what: "endorsement"))
        }
        self.index = index
        self.identity = identity
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
    }
}

/// Shares sent; waiting for the neighbours' shares (``MaskedInputRequest``).
struct SharedKeys: Sendable {
    let context: SessionContext
    let index: ParticipantIndex
    let input: ModularVector
    let maskingKey: X25519.PrivateKey
    let selfMaskSeed: SecureBytes
    let neighbours: [ParticipantIndex: VerifiedNeighbour]
    /// Keys for opening each neighbour's bundle to this client.
    let openingKeys: [ParticipantIndex: SymmetricKey]

    func handle(_ request: MaskedInputRequest, random: inout some RandomSource) throws(ClientError) -> Transition {
        let parameters = context.parameters
        guard request.roundID == parameters.roundID else {
            throw .coordinatorViolation(.wrongRound(expected: parameters.roundID, actual: request.roundID))
        }
        for share in request.shares {
            guard share.recipient == index, neighbours[share.sender] != nil else {
                throw .coordinatorViolation(.inconsistentView(
                    reason: "share from \(share.sender) to \(share.recipient) is not from a neighbour to this client"))
            }
        }
        let senders = request.shares.map(\.sender)
        if senders.count < context.threshold {
            return .abort(roundID: parameters.roundID, participant: index, .tooFewNeighbours,
                          "\(senders.count) neighbours shared keys, threshold is \(context.threshold)")
        }
        // Open every bundle now. A bundle that fails is the sender's fault (or the coordinator's): this client
        // still masks with that neighbour (the coordinator counts on it) but holds no share of its secrets.
        var held: [ParticipantIndex: HeldShares] = [:]
        for share in request.shares {
            if let shares = open(share) { held[share.sender] = shares }
        }
        // y_u = x_u + PRG(b_u) + Σ_{v ∈ N(u) ∩ U2} ±PRG(s_uv)  (mod 2^bits)
        var vector = input
        // Distributed DP: add this client's share of the noise before masking (SPEC §5.10).
        if case let .distributed(local) = parameters.noise {
            vector.addNoise(variance: local, using: &random)
        }
        var masks: [MaskExpander.Mask] = [
            (Derivation.selfMaskKey(seed: selfMaskSeed, sessionID: context.sessionID, owner: index), .add),
        ]
        for sender in senders {
            guard let neighbour = neighbours[sender] else { continue }
            let agreement: SharedSecret
            do {
                agreement = try maskingKey.sharedSecret(with: neighbour.maskingKey)
            } catch {
                throw .coordinatorViolation(.invalidKey(owner: sender, what: "masking"))
            }
            let key = Derivation.pairwiseMaskKey(agreement: agreement, sessionID: context.sessionID, index, sender)
            masks.append((key, Derivation.pairwiseDirection(owner: index, neighbour: sender)))
        }
        vector.applyMasks(masks)
        let next = MaskedInputSent(
            context: context, index: index, senders: Set(senders), held: held,
            neighbourIdentities: neighbours.mapValues(\.identity))
        let message = MaskedInput(roundID: parameters.roundID, vector: vector.encoded())
        return Transition(next: .maskedInputSent(next), actions: [.send(.maskedInput(message))])
    }

    /// Decrypts and checks one bundle; nil if it fails authentication or is malformed or misaddressed.
    private func open(_ share: EncryptedShare) -> HeldShares? {
        guard let key = openingKeys[share.sender] else { return nil }
        let binding = Derivation.shareBinding(sessionID: context.sessionID, sender: share.sender, recipient: index)
        guard let plaintext = try? ChaChaPoly.open(
                share.ciphertext, using: key, nonce: Derivation.zeroNonce, authenticating: binding),
              let bundle = try? ShareBundle(decoding: plaintext.unsafeCopyToArray()),
              bundle.owner == share.sender, bundle.holder == index,
              let selfMask = try? ShamirShare(x: index, encoded: bundle.selfMaskShare),
              let maskingKey = try? ShamirShare(x: index, encoded: bundle.maskingKeyShare),
              selfMask.values.count == encodedSecretShareBytes / 8,
              maskingKey.values.count == encodedSecretShareBytes / 8 else { return nil }
        return HeldShares(selfMask: selfMask, maskingKey: maskingKey)
    }
}

/// The two shares a client holds for one neighbour.
struct HeldShares: Sendable {
    let selfMask: ShamirShare
    let maskingKey: ShamirShare
}

/// Masked input sent; waiting for the survivor set (``ConsistencyCheckRequest`` in active mode, else
/// ``UnmaskRequest``).
struct MaskedInputSent: Sendable {
    let context: SessionContext
    let index: ParticipantIndex
    /// N(u) ∩ U2: the neighbours whose masks this client added.
    let senders: Set<ParticipantIndex>
    let held: [ParticipantIndex: HeldShares]
    let neighbourIdentities: [ParticipantIndex: Ed25519.VerifyingKey]

    /// What the survivor check concluded: the statuses it proved, or an abort.
    enum SurvivorCheck {
        case proceed(statuses: [ParticipantIndex: Bool])
        case abort(Transition)
    }

    /// The survivor check of SPEC §8.1: the view's proof opens this client's and its neighbours' statuses under
    /// its root, this client survived, every surviving neighbour is one whose masks it added, and the set is
    /// large enough. Throws if the coordinator contradicts itself.
    func check(_ view: SurvivorView, roundID: RoundID) throws(ClientError) -> SurvivorCheck {
        let parameters = context.parameters
        guard roundID == parameters.roundID else {
            throw .coordinatorViolation(.wrongRound(expected: parameters.roundID, actual: roundID))
        }
        let statuses: [ParticipantIndex: Bool]
        do {
            statuses = try SurvivorTree.verify(view, participant: index, graph: context.graph)
        } catch {
            throw .coordinatorViolation(error)
        }
        guard statuses[index] == true else {
            throw .coordinatorViolation(.inconsistentView(reason: "this client is missing from the survivor set"))
        }
        for (neighbour, survived) in statuses.sorted(by: { $0.key < $1.key }) where survived && neighbour != index {
            guard senders.contains(neighbour) else {
                throw .coordinatorViolation(.inconsistentView(
                    reason: "neighbour \(neighbour) is listed as a survivor but never shared keys"))
            }
        }
        if Int(view.survivorCount) < context.requiredSurvivors {
            return .abort(.abort(roundID: parameters.roundID, participant: index, .tooFewMaskedInputs,
                                 "\(view.survivorCount) survivors, the round needs \(context.requiredSurvivors)"))
        }
        return .proceed(statuses: statuses)
    }

    func handle(_ request: ConsistencyCheckRequest, identity: Ed25519.SigningKey) throws(ClientError) -> Transition {
        let statuses: [ParticipantIndex: Bool]
        switch try check(request.survivors, roundID: request.roundID) {
        case let .abort(transition): return transition
        case let .proceed(proven): statuses = proven
        }
        let signature = identity.signature(for: Derivation.consistencyMessage(
            sessionID: context.sessionID, survivorCount: request.survivors.survivorCount,
            survivorRoot: request.survivors.survivorRoot))
        let message = ConsistencyResponse(roundID: request.roundID, signature: signature.rawRepresentation)
        return Transition(
            next: .survivorsSigned(SurvivorsSigned(sent: self, view: request.survivors, statuses: statuses)),
            actions: [.send(.consistencyResponse(message))])
    }

    /// Honest-but-curious unmasking: reveal according to the survivor view as given.
    func handleUnmask(_ request: UnmaskRequest) throws(ClientError) -> Transition {
        let statuses: [ParticipantIndex: Bool]
        switch try check(request.survivors, roundID: request.roundID) {
        case let .abort(transition): return transition
        case let .proceed(proven): statuses = proven
        }
        guard request.signatures.isEmpty else {
            throw .coordinatorViolation(.inconsistentView(reason: "consistency signatures in an honest-but-curious round"))
        }
        return reveal(statuses: statuses)
    }

    /// Builds the one and only unmasking response: for each neighbour v in U2 whose bundle this client holds,
    /// the share of b_v if v survived, else the share of s_sk_v — never both.
    func reveal(statuses: [ParticipantIndex: Bool]) -> Transition {
        var revealed: [RevealedShare] = []
        for owner in held.keys.sorted() {
            guard let shares = held[owner] else { continue }
            if statuses[owner] == true {
                revealed.append(RevealedShare(owner: owner, kind: .selfMask, share: shares.selfMask.encoded))
            } else {
                revealed.append(RevealedShare(owner: owner, kind: .maskingKey, share: shares.maskingKey.encoded))
            }
        }
        let roundID = context.parameters.roundID
        let message = UnmaskResponse(roundID: roundID, shares: revealed)
        return Transition(
            next: .awaitingOutcome(AwaitingOutcome(roundID: roundID, index: index)),
            actions: [.send(.unmaskResponse(message))])
    }
}

/// Active mode: the survivor view is signed; waiting for the neighbours' signatures (``UnmaskRequest``).
struct SurvivorsSigned: Sendable {
    let sent: MaskedInputSent
    /// The view signed: its count and root are the signed value.
    let view: SurvivorView
    /// The statuses the view proved.
    let statuses: [ParticipantIndex: Bool]

    func handle(_ request: UnmaskRequest) throws(ClientError) -> Transition {
        let context = sent.context
        guard request.roundID == context.parameters.roundID else {
            throw .coordinatorViolation(.wrongRound(expected: context.parameters.roundID, actual: request.roundID))
        }
        guard request.survivors == view else {
            throw .coordinatorViolation(.inconsistentView(reason: "unmasking survivor view differs from the one signed"))
        }
        // At least t valid signatures over this exact count and root, from distinct surviving neighbours (the
        // decoder keeps the entries strictly increasing by index; distinct signers are counted all the same).
        let signed = Derivation.consistencyMessage(
            sessionID: context.sessionID, survivorCount: view.survivorCount, survivorRoot: view.survivorRoot)
        var signers: Set<ParticipantIndex> = []
        for entry in request.signatures {
            guard entry.index != sent.index, statuses[entry.index] == true,
                  let identity = sent.neighbourIdentities[entry.index] else {
                throw .coordinatorViolation(.inconsistentView(
                    reason: "consistency signature of \(entry.index), who is not a surviving neighbour"))
            }
            guard let signature = try? Ed25519.Signature(rawRepresentation: entry.signature),
                  identity.isValidSignature(signature, for: signed) else {
                throw .coordinatorViolation(.badSignature(signer: entry.index, what: "consistency"))
            }
            signers.insert(entry.index)
        }
        let valid = signers.count
        if valid < context.threshold {
            return .abort(roundID: context.parameters.roundID, participant: sent.index, .consistencyCheckFailed,
                          "\(valid) neighbours signed the survivor set, threshold is \(context.threshold)")
        }
        return sent.reveal(statuses: statuses)
    }
}

/// Shares revealed; waiting for the coordinator's ``RoundOutcome``.
struct AwaitingOutcome: Sendable {
    let roundID: RoundID
    let index: ParticipantIndex
}
