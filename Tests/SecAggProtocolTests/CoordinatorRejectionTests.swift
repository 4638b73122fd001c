import SecAggTesting
import Testing
import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// The client message type each coordinator phase collects.
let collectedType: [RoundPhase: UInt8] = [
    .advertiseKeys: 0x41, .shareKeys: 0x42, .maskedInputCollection: 0x43, .consistencyCheck: 0x44, .unmasking: 0x45,
]

// Every input the coordinator must refuse: it throws the matching error, changes nothing (progress is the same
// before and after, and the round then ends exactly like an undisturbed reference round), and the honest clients'
// round goes on.
@Suite("Coordinator rejects bad client input")
struct CoordinatorRejectionTests {
    /// Client 1's five phase messages from a completed reference round (plus a consistency response in
    /// honest-but-curious rounds, which have none).
    static func sampleMessages(_ reference: RoundFixture) -> [ClientMessage] {
        var messages = (reference.sent[1] ?? []).filter { $0.typeCode != 0x46 }
        if !messages.contains(where: { $0.typeCode == 0x44 }) {
            messages.append(.consistencyResponse(ConsistencyResponse(
                roundID: reference.parameters.roundID, signature: [UInt8](repeating: 7, count: 64))))
        }
        return messages
    }

    // Every message type sent in every phase it does not belong to (and before the start) is refused as unexpected,
    // from a client that already answered and from one that has not; the round ends exactly as the reference does.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func outOfPhaseMessages(mode: RoundMode) throws {
        var reference = try RoundFixture(mode: mode)
        let referenceResult = try #require(try reference.finish())
        let samples = Self.sampleMessages(reference)
        #expect(samples.count == 5)

        var fixture = try RoundFixture(mode: mode)
        for message in samples {
            #expect(throws: CoordinatorError.participantViolation(1, .unexpectedMessage(message: message.typeName, state: "created"))) {
                try fixture.coordinatorHandle(message, from: 1)
            }
        }
        try fixture.start()
        var phases: [RoundPhase] = []
        while let phase = fixture.coordinator.phase {
            phases.append(phase)
            try fixture.deliverToClients()
            // Half the answers are in: sender 1 has answered this phase, sender 5 has not.
            let queue = fixture.toCoordinator
            for (sender, message) in queue.prefix(2) { try fixture.coordinatorHandle(message, from: sender) }
            fixture.toCoordinator = Array(queue.dropFirst(2))
            let before = fixture.coordinator.progress
            for sender: ParticipantIndex in [1, 5] {
                for message in samples where message.typeCode != collectedType[phase] {
                    #expect(throws: CoordinatorError.participantViolation(
                        sender, .unexpectedMessage(message: message.typeName, state: "\(phase)"))) {
                        try fixture.coordinatorHandle(message, from: sender)
                    }
                }
            }
            #expect(fixture.coordinator.progress == before)
            #expect(fixture.coordinator.phase == phase)
            try fixture.deliverToCoordinator()
            try fixture.advance()
        }
        let expectedPhases: [RoundPhase] = mode == .active
            ? [.advertiseKeys, .shareKeys, .maskedInputCollection, .consistencyCheck, .unmasking]
            : [.advertiseKeys, .shareKeys, .maskedInputCollection, .unmasking]
        #expect(phases == expectedPhases)
        try fixture.deliverToClients()
        // After the end, every message is a usage error (the round is over), including an abort.
        for message in samples + [.abort(ClientAbort(roundID: fixture.parameters.roundID, code: 0x0206, reason: "bye"))] {
            #expect(throws: CoordinatorError.usage(.roundFinished)) { try fixture.coordinatorHandle(message, from: 2) }
        }
        #expect(fixture.coordinator.result == referenceResult)
        #expect(fixture.received == reference.received)
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // A second message of the phase from the same client is refused as a duplicate, even when its content differs;
    // the first one stands.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func duplicateMessages(mode: RoundMode) throws {
        var reference = try RoundFixture(mode: mode)
        let referenceResult = try reference.finish()
        var fixture = try RoundFixture(mode: mode)
        try fixture.start()
        var checked = 0
        while let phase = fixture.coordinator.phase {
            try fixture.deliverToClients()
            let first = try #require(fixture.toCoordinator.first)
            try fixture.deliverToCoordinator()
            let before = fixture.coordinator.progress
            #expect(throws: CoordinatorError.participantViolation(first.sender, .duplicateMessage(phase: phase))) {
                try fixture.coordinatorHandle(first.message, from: first.sender)
            }
            // A different, well-formed message of the same type from the same sender is a duplicate too.
            if let other = fixture.sent(by: 2, type: first.message.typeCode).last {
                #expect(throws: CoordinatorError.participantViolation(first.sender, .duplicateMessage(phase: phase))) {
                    try fixture.coordinatorHandle(other, from: first.sender)
                }
            }
            #expect(fixture.coordinator.progress == before)
            checked += 1
            try fixture.advance()
        }
        try fixture.deliverToClients()
        #expect(checked == (mode == .active ? 5 : 4))
        #expect(fixture.coordinator.result == referenceResult)
    }

    // A message naming another round is refused as wrong-round in every phase (an abort too: it does not drop the sender).
    @Test func wrongRound() throws {
        var reference = try RoundFixture(mode: .active)
        let referenceResult = try reference.finish()
        var fixture = try RoundFixture(mode: .active)
        try fixture.start()
        let expected = fixture.parameters.roundID
        while fixture.coordinator.phase != nil {
            try fixture.deliverToClients()
            let before = fixture.coordinator.progress
            for (sender, message) in fixture.toCoordinator {
                #expect(throws: CoordinatorError.participantViolation(sender, .wrongRound(expected: expected, actual: foreignRoundID))) {
                    try fixture.coordinatorHandle(message.withRoundID(foreignRoundID), from: sender)
                }
            }
            let abort = ClientMessage.abort(ClientAbort(roundID: foreignRoundID, code: 0x0206, reason: "not this round"))
            #expect(throws: CoordinatorError.participantViolation(3, .wrongRound(expected: expected, actual: foreignRoundID))) {
                try fixture.coordinatorHandle(abort, from: 3)
            }
            #expect(fixture.coordinator.progress == before)
            try fixture.deliverToCoordinator()
            try fixture.advance()
        }
        try fixture.deliverToClients()
        #expect(fixture.coordinator.result == referenceResult)
    }

    // A sender that is not on the roster (index 0, n + 1, anything else) is the caller's mistake: a usage error.
    @Test(arguments: [ParticipantIndex(0), 6, 1000, .max])
    func unknownSender(sender: ParticipantIndex) throws {
        var reference = try RoundFixture()
        try reference.finish()
        let samples = Self.sampleMessages(reference)
        var fixture = try RoundFixture()
        try fixture.start()
        for message in samples {
            #expect(throws: CoordinatorError.usage(.unknownParticipant(sender))) {
                try fixture.coordinatorHandle(message, from: sender)
            }
        }
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // Clients that left (disconnected, aborted, or silent when a phase closed) are no longer participants.
    @Test func formerParticipants() throws {
        var fixture = try RoundFixture(clients: 7, threshold: 3)
        try fixture.start()
        try fixture.deliverToClients()
        // 7 never gets its advertisement in before the phase closes.
        let late = try #require(fixture.toCoordinator.first { $0.sender == 7 })
        fixture.toCoordinator.removeAll { $0.sender == 7 }
        fixture.offline.insert(7)
        try fixture.deliverToCoordinator()
        try fixture.advance()
        #expect(fixture.coordinator.phase == .shareKeys)
        #expect(throws: CoordinatorError.participantViolation(7, .notAParticipant(7))) {
            try fixture.coordinatorHandle(late.message, from: 7)
        }
        try fixture.deliverToClients()
        // 6 disconnects; 5 aborts on purpose.
        let shareOf6 = try #require(fixture.toCoordinator.first { $0.sender == 6 })
        try fixture.disconnect(6)
        #expect(throws: CoordinatorError.participantViolation(6, .notAParticipant(6))) {
            try fixture.coordinatorHandle(shareOf6.message, from: 6)
        }
        let shareOf5 = try #require(fixture.toCoordinator.first { $0.sender == 5 })
        fixture.toCoordinator.removeAll { $0.sender == 5 }
        try fixture.coordinatorHandle(.abort(ClientAbort(roundID: fixture.parameters.roundID, code: 0x0206, reason: "leaving")), from: 5)
        fixture.offline.insert(5)
        #expect(throws: CoordinatorError.participantViolation(5, .notAParticipant(5))) {
            try fixture.coordinatorHandle(shareOf5.message, from: 5)
        }
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4])
    }

    /// A fixture whose AdvertiseKeys are queued for the coordinator, and client 1's genuine advertisement.
    static func advertisingFixture(mode: RoundMode = .honestButCurious) throws -> (RoundFixture, AdvertiseKeys) {
        var fixture = try RoundFixture(mode: mode)
        try fixture.start()
        try fixture.deliverToClients()
        guard case let .advertiseKeys(genuine)? = fixture.toCoordinator.first(where: { $0.sender == 1 })?.message else {
            throw FixtureError("client 1 did not advertise")
        }
        return (fixture, genuine)
    }

    /// Client `index`'s advertisement signature over `encryptionKey` and `maskingKey`, made with its real identity.
    static func signedAdvertisement(
        _ fixture: RoundFixture, index: ParticipantIndex, encryptionKey: [UInt8], maskingKey: [UInt8]
    ) -> AdvertiseKeys {
        let message = Derivation.advertisementMessage(
            roundDigest: Derivation.roundDigest(fixture.parameters), index: index,
            encryptionKey: encryptionKey, maskingKey: maskingKey)
        return AdvertiseKeys(
            roundID: fixture.parameters.roundID, encryptionKey: encryptionKey, maskingKey: maskingKey,
            signature: fixture.identities[index]!.signature(for: message).rawRepresentation)
    }

    // Advertisements whose signature does not verify under the sender's enrolled identity are refused as bad signatures.
    @Test func forgedAdvertisement() throws {
        var reference = try RoundFixture()
        let referenceResult = try reference.finish()
        var (fixture, genuine) = try Self.advertisingFixture()
        guard case let .advertiseKeys(ofClient2)? = fixture.toCoordinator.first(where: { $0.sender == 2 })?.message else {
            throw FixtureError("client 2 did not advertise")
        }
        var flippedSignature = genuine
        flippedSignature.signature = flipped(genuine.signature, at: 5)
        var swappedKeys = genuine  // the signature covers the keys in order
        swappedKeys.encryptionKey = genuine.maskingKey
        swappedKeys.maskingKey = genuine.encryptionKey
        var otherKey = genuine  // a valid key the client never signed
        otherKey.maskingKey = ofClient2.maskingKey
        // Client 2's advertisement relayed as client 1's; and client 1's keys signed for another index.
        let replayed = ofClient2
        let wrongIndex = Self.signedAdvertisement(fixture, index: 2, encryptionKey: genuine.encryptionKey, maskingKey: genuine.maskingKey)
        var wrongIdentity = wrongIndex
        wrongIdentity.signature = fixture.identities[2]!.signature(for: Derivation.advertisementMessage(
            roundDigest: Derivation.roundDigest(fixture.parameters), index: 1,
            encryptionKey: genuine.encryptionKey, maskingKey: genuine.maskingKey)).rawRepresentation
        var zeroSignature = genuine
        zeroSignature.signature = [UInt8](repeating: 0, count: 64)

        let before = fixture.coordinator.progress
        for forged in [flippedSignature, swappedKeys, otherKey, replayed, wrongIndex, wrongIdentity, zeroSignature] {
            #expect(throws: CoordinatorError.participantViolation(1, .badSignature(signer: 1, what: "advertisement"))) {
                try fixture.coordinatorHandle(.advertiseKeys(forged), from: 1)
            }
        }
        #expect(fixture.coordinator.progress == before)
        try fixture.finish()
        #expect(fixture.coordinator.result == referenceResult)
    }

    // Low-order X25519 points (which make any agreement zero) are refused as either advertised key, even when signed.
    @Test(arguments: lowOrderX25519Keys, [true, false])
    func lowOrderKeys(key: [UInt8], asEncryptionKey: Bool) throws {
        var (fixture, genuine) = try Self.advertisingFixture()
        let forged = Self.signedAdvertisement(
            fixture, index: 1,
            encryptionKey: asEncryptionKey ? key : genuine.encryptionKey,
            maskingKey: asEncryptionKey ? genuine.maskingKey : key)
        let error = try #require(thrownError { try fixture.coordinatorHandle(.advertiseKeys(forged), from: 1) })
        #expect(violation(error, from: 1)?.isInvalidKey(owner: 1) == true, "\(error)")
        // The genuine advertisement is still welcome afterwards.
        try fixture.deliverToCoordinator()
        try fixture.advance()
        #expect(fixture.coordinator.phase == .shareKeys)
        #expect(try fixture.shareKeysRequestPending().advertisements.count == 5)
    }

    // Equal encryption and masking keys, and keys of the wrong size (possible through the typed API), are invalid keys.
    @Test func malformedKeys() throws {
        var (fixture, genuine) = try Self.advertisingFixture()
        let equal = Self.signedAdvertisement(fixture, index: 1, encryptionKey: genuine.maskingKey, maskingKey: genuine.maskingKey)
        var short = genuine
        short.encryptionKey.removeLast()
        var long = genuine
        long.maskingKey.append(0)
        for bad in [equal, short, long] {
            let error = try #require(thrownError { try fixture.coordinatorHandle(.advertiseKeys(bad), from: 1) })
            #expect(violation(error, from: 1)?.isInvalidKey(owner: 1) == true, "\(error)")
        }
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    /// A fixture with every ShareKeys queued for the coordinator, and client 1's.
    static func sharingFixture(graph: GraphShape = .complete, clients: UInt32 = 5, threshold: UInt32 = 3) throws -> (RoundFixture, ShareKeys) {
        var fixture = try RoundFixture(clients: clients, threshold: threshold, graph: graph)
        try fixture.run(to: .shareKeys)
        try fixture.deliverToClients()
        guard case let .shareKeys(genuine)? = fixture.toCoordinator.first(where: { $0.sender == 1 })?.message else {
            throw FixtureError("client 1 did not share")
        }
        return (fixture, genuine)
    }

    // A share bundle whose ciphertext is not exactly the sealed-bundle size is refused, naming owner and holder.
    @Test(arguments: [-1, 1, -106])
    func tamperedCiphertextLength(delta: Int) throws {
        var reference = try RoundFixture()
        let referenceResult = try reference.finish()
        var (fixture, genuine) = try Self.sharingFixture()
        var tampered = genuine
        let target = tampered.shares[2]
        if delta < 0 {
            tampered.shares[2].ciphertext.removeLast(min(-delta, target.ciphertext.count))
        } else {
            tampered.shares[2].ciphertext += [UInt8](repeating: 0xaa, count: delta)
        }
        let before = fixture.coordinator.progress
        let error = try #require(thrownError { try fixture.coordinatorHandle(.shareKeys(tampered), from: 1) })
        #expect(violation(error, from: 1)?.isInvalidShare(owner: 1, holder: target.recipient) == true, "\(error)")
        #expect(fixture.coordinator.progress == before)
        try fixture.finish()
        #expect(fixture.coordinator.result == referenceResult)
    }

    // Shares must address exactly the sender's neighbours, once each, and name the sender as sender.
    @Test func misaddressedShares() throws {
        var reference = try RoundFixture()
        let referenceResult = try reference.finish()
        var (fixture, genuine) = try Self.sharingFixture()
        #expect(genuine.shares.map(\.recipient) == [2, 3, 4, 5])
        var missing = genuine
        missing.shares.removeLast()
        var toSelf = genuine
        toSelf.shares.insert(EncryptedShare(sender: 1, recipient: 1, ciphertext: genuine.shares[0].ciphertext), at: 0)
        var toStranger = genuine
        toStranger.shares.append(EncryptedShare(sender: 1, recipient: 6, ciphertext: genuine.shares[0].ciphertext))
        var duplicated = genuine
        duplicated.shares.insert(genuine.shares[0], at: 0)
        var none = genuine
        none.shares = []
        for bad in [missing, toSelf, toStranger, duplicated, none] {
            let error = try #require(thrownError { try fixture.coordinatorHandle(.shareKeys(bad), from: 1) })
            #expect(violation(error, from: 1)?.isInconsistentView == true, "\(error)")
        }
        var wrongSender = genuine
        wrongSender.shares[1].sender = 3
        let error = try #require(thrownError { try fixture.coordinatorHandle(.shareKeys(wrongSender), from: 1) })
        #expect(violation(error, from: 1)?.isInvalidShare(owner: 1, holder: genuine.shares[1].recipient) == true, "\(error)")
        try fixture.finish()
        #expect(fixture.coordinator.result == referenceResult)
    }

    // On a Harary graph, shares for non-neighbours are refused: exactly the sender's k neighbours are addressed.
    @Test func sharesToNonNeighbours() throws {
        var (fixture, genuine) = try Self.sharingFixture(graph: .harary(degree: 2), clients: 6, threshold: 2)
        let graph = try fixture.graph()
        let neighbours = graph.neighbors(of: 1)
        #expect(genuine.shares.map(\.recipient) == neighbours)
        let stranger = try #require((2...6).first { !neighbours.contains($0) })
        var redirected = genuine
        redirected.shares[0].recipient = stranger
        redirected.shares.sort { $0.recipient < $1.recipient }
        let error = try #require(thrownError { try fixture.coordinatorHandle(.shareKeys(redirected), from: 1) })
        #expect(violation(error, from: 1)?.isInconsistentView == true, "\(error)")
        try fixture.finish()
        fixture.expectExactSum(survivors: Array(1...6))
    }

    /// Masked-vector tampering for a round of dimension 6 and bits 16 (4-byte lanes).
    static let vectorTampering: [(name: String, transform: @Sendable ([UInt8]) -> [UInt8])] = [
        ("one lane short", { Array($0.dropLast(4)) }),
        ("one lane long", { $0 + [0, 0, 0, 0] }),
        ("one byte long", { $0 + [0] }),
        ("one byte short", { Array($0.dropLast()) }),
        ("empty", { _ in [] }),
        ("lane = 2^bits", { var v = $0; v[4...7] = [0x00, 0x00, 0x01, 0x00]; return v }),
        ("lane = 2^32 - 1", { var v = $0; v[20...23] = [0xff, 0xff, 0xff, 0xff]; return v }),
        ("lane with a high bit", { var v = $0; v[3] |= 0x80; return v }),
    ]

    // A masked vector of the wrong length or with a lane ≥ 2^bits is refused; once the driver drops its sender the
    // round completes with exactly the sum of the others.
    @Test(arguments: 0..<vectorTampering.count)
    func invalidMaskedVector(variant: Int) throws {
        var fixture = try RoundFixture(dimension: 6, bits: 16)
        try fixture.run(to: .maskedInputCollection)
        try fixture.deliverToClients()
        guard case let .maskedInput(genuine)? = fixture.toCoordinator.first(where: { $0.sender == 1 })?.message else {
            throw FixtureError("client 1 sent no masked input")
        }
        #expect(genuine.vector.count == 24)
        var tampered = genuine
        tampered.vector = Self.vectorTampering[variant].transform(genuine.vector)
        // The delivered vector passes through the wire codec unchanged.
        let decoded = try ClientMessage(decoding: ClientMessage.maskedInput(tampered).encoded)
        let before = fixture.coordinator.progress
        let error = try #require(thrownError { try fixture.coordinatorHandle(decoded, from: 1) })
        #expect(violation(error, from: 1)?.isInvalidVector == true, "\(Self.vectorTampering[variant].name): \(error)")
        #expect(fixture.coordinator.progress == before)
        try fixture.disconnect(1)
        try fixture.finish()
        fixture.expectExactSum(survivors: [2, 3, 4, 5])
    }

    /// A fixture with every UnmaskResponse queued for the coordinator (client 5 dropped after ShareKeys if asked).
    static func unmaskingFixture(
        dropAfterSharing: ParticipantIndex? = nil, graph: GraphShape = .complete, clients: UInt32 = 5, threshold: UInt32 = 3
    ) throws -> RoundFixture {
        var fixture = try RoundFixture(clients: clients, threshold: threshold, graph: graph)
        try fixture.run(to: .maskedInputCollection)
        if let dropAfterSharing { try fixture.disconnect(dropAfterSharing) }
        try fixture.run(to: .unmasking)
        try fixture.deliverToClients()
        return fixture
    }

    static func unmaskResponse(of sender: ParticipantIndex, in fixture: RoundFixture) throws -> UnmaskResponse {
        guard case let .unmaskResponse(response)? = fixture.toCoordinator.first(where: { $0.sender == sender })?.message else {
            throw FixtureError("client \(sender) sent no unmask response")
        }
        return response
    }

    // Revealing the wrong kind of share (self-mask for a dropped owner, masking key for a survivor) is refused.
    @Test func wrongShareKind() throws {
        var reference = try Self.unmaskingFixture(dropAfterSharing: 5)
        let referenceResult = try reference.finish()
        var fixture = try Self.unmaskingFixture(dropAfterSharing: 5)
        let genuine = try Self.unmaskResponse(of: 1, in: fixture)
        #expect(genuine.shares.map(\.owner) == [2, 3, 4, 5])
        #expect(genuine.shares.map(\.kind) == [.selfMask, .selfMask, .selfMask, .maskingKey])
        let before = fixture.coordinator.progress
        for position in genuine.shares.indices {
            var tampered = genuine
            tampered.shares[position].kind = genuine.shares[position].kind == .selfMask ? .maskingKey : .selfMask
            let error = try #require(thrownError { try fixture.coordinatorHandle(.unmaskResponse(tampered), from: 1) })
            #expect(violation(error, from: 1)?.isInvalidShare(owner: genuine.shares[position].owner, holder: 1) == true, "\(error)")
        }
        #expect(fixture.coordinator.progress == before)
        try fixture.finish()
        #expect(fixture.coordinator.result == referenceResult)
        fixture.expectExactSum(survivors: [1, 2, 3, 4])
    }

    // Shares of owners the sender cannot hold are refused: its own, a participant outside U2, an unknown index,
    // and (on a Harary graph) a non-neighbour.
    @Test func sharesTheSenderCannotHold() throws {
        var fixture = try Self.unmaskingFixture()
        let genuine = try Self.unmaskResponse(of: 1, in: fixture)
        let template = genuine.shares[0]
        for owner: ParticipantIndex in [1, 6, 99] {
            var tampered = genuine
            tampered.shares.append(RevealedShare(owner: owner, kind: .selfMask, share: template.share))
            tampered.shares.sort { $0.owner < $1.owner }
            let error = try #require(thrownError { try fixture.coordinatorHandle(.unmaskResponse(tampered), from: 1) })
            #expect(violation(error, from: 1)?.isInvalidShare(owner: owner, holder: 1) == true, "owner \(owner): \(error)")
        }
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])

        var harary = try Self.unmaskingFixture(graph: .harary(degree: 2), clients: 6, threshold: 2)
        let neighbours = try harary.graph().neighbors(of: 1)
        let response = try Self.unmaskResponse(of: 1, in: harary)
        #expect(response.shares.map(\.owner) == neighbours)
        let stranger = try #require((2...6).first { !neighbours.contains($0) })
        var relabelled = response
        relabelled.shares[0].owner = stranger
        relabelled.shares.sort { $0.owner < $1.owner }
        let error = try #require(thrownError { try harary.coordinatorHandle(.unmaskResponse(relabelled), from: 1) })
        #expect(violation(error, from: 1)?.isInvalidShare(owner: stranger, holder: 1) == true, "\(error)")
        try harary.finish()
        harary.expectExactSum(survivors: Array(1...6))
    }

    // A revealed share that is not a well-formed 5-element share below the field prime is refused.
    @Test func malformedRevealedShare() throws {
        var fixture = try Self.unmaskingFixture()
        let genuine = try Self.unmaskResponse(of: 2, in: fixture)
        #expect(genuine.shares[0].share.count == 40)
        let variants: [[UInt8]] = [
            Array(genuine.shares[0].share.dropLast(8)),       // 4 elements
            genuine.shares[0].share + [UInt8](repeating: 0, count: 8),  // 6 elements
            Array(genuine.shares[0].share.dropLast()),         // not a multiple of 8
            [UInt8](repeating: 0xff, count: 40),               // elements ≥ 2^61 − 1
            [],
        ]
        for share in variants {
            var tampered = genuine
            tampered.shares[0].share = share
            let error = try #require(thrownError { try fixture.coordinatorHandle(.unmaskResponse(tampered), from: 2) })
            #expect(violation(error, from: 2)?.isInvalidShare(owner: genuine.shares[0].owner, holder: 2) == true, "\(error)")
        }
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // A well-formed but wrong share (a lying or corrupted holder) does not spoil the sum: robust reconstruction
    // finds t consistent shares, releases the exact sum, and names the holder whose share did not fit.
    @Test func lyingShareHolderIsIdentified() throws {
        var fixture = try Self.unmaskingFixture()
        var response = try Self.unmaskResponse(of: 2, in: fixture)
        let position = try #require(response.shares.firstIndex { $0.owner == 1 })
        response.shares[position].share[0] ^= 1  // still a valid field element
        let queue = fixture.toCoordinator.map { entry in
            entry.sender == 2 ? (sender: entry.sender, message: ClientMessage.unmaskResponse(response)) : entry
        }
        fixture.toCoordinator = queue
        try fixture.deliverToCoordinator()
        try fixture.advance()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
        let reports = fixture.coordinatorActions.compactMap { action -> (ParticipantIndex, [ParticipantIndex])? in
            if case let .inconsistentShares(owner, holders) = action { return (owner, holders) }
            return nil
        }
        #expect(reports.count == 1)
        #expect(reports.first?.0 == 1)
        #expect(reports.first?.1 == [2])
    }

    // A client that commits to a self-mask seed other than the one it shared cannot make the coordinator release a
    // wrong sum: reconstruction fails against the commitment and the round aborts with reconstructionFailed.
    @Test func falseSelfMaskCommitmentAbortsCleanly() throws {
        var (fixture, genuine) = try Self.sharingFixture()
        var lying = genuine
        lying.selfMaskCommitment = flipped(genuine.selfMaskCommitment, at: 0)
        fixture.toCoordinator = fixture.toCoordinator.map { entry in
            entry.sender == 1 ? (sender: 1, message: ClientMessage.shareKeys(lying)) : entry
        }
        try fixture.finish()
        #expect(fixture.coordinator.result == nil)
        #expect(fixture.coordinator.abortReason?.code == .reconstructionFailed)
        for index in fixture.indices {
            guard case let .aborted(code, _)? = fixture.clients[index]!.receipt?.outcome else {
                Issue.record("client \(index) was not told of the abort"); continue
            }
            #expect(code == AbortCode.reconstructionFailed.rawValue)
        }
    }

    // A consistency response must be the sender's own signature over exactly U3.
    @Test func forgedConsistencySignature() throws {
        var reference = try RoundFixture(mode: .active)
        let referenceResult = try reference.finish()
        var fixture = try RoundFixture(mode: .active)
        try fixture.run(to: .consistencyCheck)
        try fixture.deliverToClients()
        guard case let .consistencyResponse(genuine)? = fixture.toCoordinator.first(where: { $0.sender == 1 })?.message,
              case let .consistencyResponse(ofClient2)? = fixture.toCoordinator.first(where: { $0.sender == 2 })?.message else {
            throw FixtureError("no consistency responses")
        }
        let roundID = fixture.parameters.roundID
        let otherSet = try fixture.consistencySignature(by: 1, over: [1, 2, 3, 4]).signature
        let forgeries: [[UInt8]] = [flipped(genuine.signature, at: 40), ofClient2.signature, otherSet, [UInt8](repeating: 0, count: 64)]
        let before = fixture.coordinator.progress
        for signature in forgeries {
            #expect(throws: CoordinatorError.participantViolation(1, .badSignature(signer: 1, what: "consistency"))) {
                try fixture.coordinatorHandle(.consistencyResponse(ConsistencyResponse(roundID: roundID, signature: signature)), from: 1)
            }
        }
        #expect(fixture.coordinator.progress == before)
        try fixture.finish()
        #expect(fixture.coordinator.result == referenceResult)
    }

    // Once the round is over, inputs are usage errors or no-ops; starting twice is a usage error.
    @Test func afterTheEnd() throws {
        var fixture = try RoundFixture()
        try fixture.start()
        #expect(throws: UsageError.roundFinished) { try fixture.coordinator.start(now: fixture.now) }
        let result = try fixture.finish()
        #expect(throws: UsageError.roundFinished) { try fixture.coordinator.start(now: fixture.now) }
        #expect(fixture.coordinator.advance(now: fixture.now).isEmpty)
        #expect(fixture.coordinator.participantDisconnected(1, now: fixture.now).isEmpty)
        #expect(fixture.coordinator.handleTimeout(now: ProtocolInstant(nanoseconds: .max)).isEmpty)
        #expect(fixture.coordinator.abort(AbortReason(.cancelled, "too late")).isEmpty)
        #expect(fixture.coordinator.result == result)
        #expect(fixture.coordinator.abortReason == nil)
    }
}

extension RoundFixture {
    /// The ShareKeysRequest queued for client 1 (before any client accepted it).
    func shareKeysRequestPending() throws -> ShareKeysRequest {
        guard case let .shareKeysRequest(request)? = toClients[1]?.first else {
            throw FixtureError("no ShareKeysRequest queued for client 1")
        }
        return request
    }
}
