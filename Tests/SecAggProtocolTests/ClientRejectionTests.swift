import SecAggTesting
import Testing
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggWire

// Every coordinator input a client must refuse: it throws coordinatorViolation with the matching violation, its
// state is unchanged (the same phase, and the round then goes on with byte-identical output to a reference run).
@Suite("Client rejects bad coordinator input")
struct ClientRejectionTests {
    /// Every message client 1 accepted in a completed reference round, plus a consistency check request in
    /// honest-but-curious mode (which has none) so that all six types are covered.
    static func sampleMessages(_ reference: RoundFixture) -> [CoordinatorMessage] {
        var messages = reference.received[1] ?? []
        if !messages.contains(where: { $0.typeCode == 0x04 }) {
            messages.append(.consistencyCheckRequest(ConsistencyCheckRequest(
                roundID: reference.parameters.roundID,
                survivors: (try? reference.survivorView(for: 1, survivors: [1, 2, 3, 4, 5]))
                    ?? SurvivorView(survivorCount: 5, survivorRoot: [UInt8](repeating: 0, count: 32), statuses: [], proof: []))))
        }
        return messages
    }

    // In each client state, every message type other than the one the state expects is refused as unexpected (a
    // completed-outcome included), and afterwards the client sends exactly what the undisturbed client sent.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func outOfPhaseMessages(mode: RoundMode) throws {
        var reference = try RoundFixture(mode: mode)
        let referenceResult = try reference.finish()
        let samples = Self.sampleMessages(reference)
        #expect(Set(samples.map(\.typeCode)) == Set(0x01...0x06))

        var fixture = try RoundFixture(mode: mode)
        try fixture.start()
        var statesVisited: [RoundPhase?] = []
        while true {
            let pending = fixture.toClients[1] ?? []
            if let next = pending.first {
                let phase = fixture.clients[1]!.phase
                statesVisited.append(phase)
                for message in samples where message.typeCode != next.typeCode {
                    let error = try #require(thrownError { try fixture.deliver(message, to: 1) }, "\(message.typeName) accepted in \(String(describing: phase))")
                    #expect(coordinatorViolation(error)?.isUnexpectedMessage == true, "\(error)")
                    #expect(fixture.clients[1]!.phase == phase)
                    #expect(fixture.clients[1]!.receipt == nil)
                }
            }
            if fixture.coordinator.isFinished {
                try fixture.deliverToClients()
                break
            }
            try fixture.step()
        }
        #expect(statesVisited.count == (mode == .active ? 6 : 5))
        // A finished client refuses everything as a usage error.
        for message in samples {
            #expect(throws: ClientError.usage(.roundFinished)) { try fixture.deliver(message, to: 1) }
        }
        #expect(fixture.sent[1] == reference.sent[1])
        #expect(fixture.coordinator.result == referenceResult)
        #expect(fixture.clients[1]!.receipt?.outcome == .completed(survivorCount: 5))
    }

    // Every request for the round, and a round outcome, naming another round is refused as wrong-round.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func wrongRound(mode: RoundMode) throws {
        var reference = try RoundFixture(mode: mode)
        try reference.finish()
        var fixture = try RoundFixture(mode: mode)
        try fixture.start()
        try fixture.step()  // past the invitation, which is what sets the round
        let expected = fixture.parameters.roundID
        var checked = 0
        while let next = fixture.toClients[1]?.first {
            let phase = fixture.clients[1]!.phase
            for message in [next, .roundOutcome(RoundOutcome(roundID: expected, result: .aborted(code: 0x0206, reason: "x")))] {
                #expect(throws: ClientError.coordinatorViolation(.wrongRound(expected: expected, actual: foreignRoundID))) {
                    try fixture.deliver(message.withRoundID(foreignRoundID), to: 1)
                }
            }
            #expect(fixture.clients[1]!.phase == phase)
            checked += 1
            if fixture.coordinator.isFinished { try fixture.deliverToClients(); break }
            try fixture.step()
        }
        #expect(checked == (mode == .active ? 5 : 4))
        #expect(fixture.sent[1] == reference.sent[1])
    }

    /// A fixture whose ShareKeysRequests wait for the clients, and the one for client 1.
    static func shareKeysFixture(endorsed: Bool = false) throws -> (RoundFixture, ShareKeysRequest) {
        var fixture = try RoundFixture(endorsed: endorsed)
        try fixture.run(to: .shareKeys)
        return (fixture, try fixture.shareKeysRequestPending())
    }

    /// `request` with its advertisements re-committed under a new root, as a coordinator that doctors U1 would send
    /// it to client 1 (the fixtures use the complete graph of five, so client 1's neighbours are 2 to 5 whatever the
    /// root): the proof then holds, and only the checks on the advertisements themselves can refuse it.
    static func rerooted(_ request: ShareKeysRequest) throws -> ShareKeysRequest {
        try AdvertisementTree(invitedCount: 5, advertisements: request.advertisements)
            .request(for: 1, neighbours: [2, 3, 4, 5], roundID: request.roundID)
    }

    /// Delivers `tampered` to client 1 and returns the violation; checks the client is still waiting for ShareKeys.
    static func reject(_ tampered: ShareKeysRequest, in fixture: inout RoundFixture) -> ProtocolViolation? {
        let error = thrownError { try fixture.deliver(.shareKeysRequest(tampered), to: 1) }
        #expect(fixture.clients[1]!.phase == .advertiseKeys)
        #expect(fixture.sent(by: 1, type: 0x42).isEmpty)
        return error.flatMap(coordinatorViolation)
    }

    // A neighbour advertisement that does not verify under the neighbour's identity (forged by, or garbled at, the
    // coordinator) is refused naming that neighbour; the genuine request is then accepted as if nothing happened.
    @Test func forgedNeighbourAdvertisement() throws {
        var reference = try RoundFixture()
        try reference.finish()
        var (fixture, genuine) = try Self.shareKeysFixture()
        let position = try #require(genuine.advertisements.firstIndex { $0.index == 2 })
        let ofClient3 = try #require(genuine.advertisements.first { $0.index == 3 })
        var forgeries: [ShareKeysRequest] = []
        var request = genuine
        request.advertisements[position].signature = flipped(genuine.advertisements[position].signature, at: 63)
        forgeries.append(request)
        request = genuine  // keys substituted by the coordinator (it would then know the secrets)
        var attackerRandom = SeededRandom(seed: 99, stream: "attacker")
        request.advertisements[position].maskingKey = X25519.PrivateKey(using: &attackerRandom).publicKey.rawRepresentation
        forgeries.append(request)
        request = genuine
        request.advertisements[position].encryptionKey = X25519.PrivateKey(using: &attackerRandom).publicKey.rawRepresentation
        forgeries.append(request)
        request = genuine  // client 3's keys and signature presented as client 2's
        request.advertisements[position].encryptionKey = ofClient3.encryptionKey
        request.advertisements[position].maskingKey = ofClient3.maskingKey
        request.advertisements[position].signature = ofClient3.signature
        forgeries.append(request)
        for forged in forgeries {
            // Under the genuine root the altered entry does not open (SPEC 5.13); re-committed, its signature fails.
            #expect(Self.reject(forged, in: &fixture)?.isInconsistentView == true)
            #expect(Self.reject(try Self.rerooted(forged), in: &fixture) == .badSignature(signer: 2, what: "advertisement"))
        }
        // An identity key that is not a valid Ed25519 point (all zeros: small order) verifies nothing: refused as an
        // invalid key or a bad signature, either way naming client 2.
        request = genuine
        request.advertisements[position].identityKey = [UInt8](repeating: 0, count: 32)
        let violation = Self.reject(try Self.rerooted(request), in: &fixture)
        #expect(violation?.isInvalidKey(owner: 2) == true || violation == .badSignature(signer: 2, what: "advertisement"),
                "\(String(describing: violation))")
        try fixture.finish()
        #expect(fixture.sent[1] == reference.sent[1])
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // With an enrollment authority, a coordinator that swaps in an identity of its own (and signs the advertisement
    // with it) is caught by the missing endorsement.
    @Test func substitutedIdentityNeedsEndorsement() throws {
        var (fixture, genuine) = try Self.shareKeysFixture(endorsed: true)
        let position = try #require(genuine.advertisements.firstIndex { $0.index == 2 })
        #expect(genuine.advertisements[position].endorsement.count == 64)
        var attackerRandom = SeededRandom(seed: 99, stream: "attacker-identity")
        let impostor = Ed25519.SigningKey(using: &attackerRandom)
        var request = genuine
        var advertisement = request.advertisements[position]
        advertisement.identityKey = impostor.verifyingKey.rawRepresentation
        advertisement.signature = impostor.signature(for: Derivation.advertisementMessage(
            roundDigest: Derivation.roundDigest(fixture.parameters), index: 2,
            encryptionKey: advertisement.encryptionKey, maskingKey: advertisement.maskingKey)).rawRepresentation
        request.advertisements[position] = advertisement
        #expect(Self.reject(try Self.rerooted(request), in: &fixture) == .badSignature(signer: 2, what: "endorsement"))
        // Without any endorsement at all.
        request.advertisements[position].endorsement = []
        #expect(Self.reject(try Self.rerooted(request), in: &fixture) == .badSignature(signer: 2, what: "endorsement"))
        // A genuine identity with its endorsement stripped (endorsements are outside the tree: the root still holds).
        request = genuine
        request.advertisements[position].endorsement = []
        #expect(Self.reject(request, in: &fixture) == .badSignature(signer: 2, what: "endorsement"))
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // The limitation that makes the enrollment authority necessary (SPEC 11.6, 11.10): without one, a client has no
    // way to tell a neighbour's genuine identity from one the coordinator made up, so a wholly substituted,
    // self-signed advertisement is accepted and the client deals shares to the impostor. This test pins the
    // documented behaviour; it is not a guarantee.
    @Test func withoutAuthorityASubstitutedIdentityIsAccepted() throws {
        var (fixture, genuine) = try Self.shareKeysFixture(endorsed: false)
        let position = try #require(genuine.advertisements.firstIndex { $0.index == 2 })
        var attackerRandom = SeededRandom(seed: 99, stream: "attacker-identity")
        let impostor = Ed25519.SigningKey(using: &attackerRandom)
        var request = genuine
        request.advertisements[position].identityKey = impostor.verifyingKey.rawRepresentation
        request.advertisements[position].signature = impostor.signature(for: Derivation.advertisementMessage(
            roundDigest: Derivation.roundDigest(fixture.parameters), index: 2,
            encryptionKey: genuine.advertisements[position].encryptionKey,
            maskingKey: genuine.advertisements[position].maskingKey)).rawRepresentation
        try fixture.deliver(.shareKeysRequest(try Self.rerooted(request)), to: 1)
        #expect(fixture.sent(by: 1, type: 0x42).count == 1, "the impostor's advertisement was accepted")
    }

    // The client's own advertisement must come back exactly as sent, be present, and U1 may not name strangers.
    @Test func ownAdvertisementAndStrangers() throws {
        var reference = try RoundFixture()
        try reference.finish()
        var (fixture, genuine) = try Self.shareKeysFixture()
        let own = try #require(genuine.advertisements.firstIndex { $0.index == 1 })
        let ofClient2 = genuine.advertisements[own + 1]
        var tampered: [ShareKeysRequest] = []
        var request = genuine
        request.advertisements[own].maskingKey = ofClient2.maskingKey
        tampered.append(request)
        request = genuine
        request.advertisements[own].encryptionKey = ofClient2.encryptionKey
        tampered.append(request)
        request = genuine
        request.advertisements[own].identityKey = ofClient2.identityKey
        tampered.append(request)
        request = genuine
        request.advertisements.remove(at: own)
        tampered.append(request)
        request = genuine  // a sixth participant in a round of five
        var stranger = ofClient2
        stranger.index = 6
        request.advertisements.append(stranger)
        tampered.append(request)
        for bad in tampered {
            let violation = Self.reject(bad, in: &fixture)
            #expect(violation?.isInconsistentView == true, "\(String(describing: violation))")
        }
        try fixture.finish()
        #expect(fixture.sent[1] == reference.sent[1])
    }

    // Version 2 (SPEC 4.4, 5.13): a flipped proof digest, a missing or an extra proof digest, another root, a
    // present neighbour left out (claimed absent), or an advertisement the root does not hold are each refused as
    // an inconsistent view before any key is used; the genuine request is then accepted as if nothing happened.
    @Test func badInclusionProofs() throws {
        var reference = try RoundFixture()
        try reference.finish()
        var (fixture, genuine) = try Self.shareKeysFixture()
        try #require(!genuine.proof.isEmpty || genuine.advertisements.count == 5)
        var tampered: [ShareKeysRequest] = []
        var request = genuine
        request.advertisementRoot = flipped(genuine.advertisementRoot, at: 7)
        tampered.append(request)
        request = genuine
        request.advertisements.removeAll { $0.index == 3 }  // neighbour 3 claimed absent from U1
        tampered.append(request)
        request = genuine
        request.advertisedCount += 1
        tampered.append(request)
        request = genuine
        request.proof.append([UInt8](repeating: 0x42, count: 32))
        tampered.append(request)
        for bad in tampered {
            let violation = Self.reject(bad, in: &fixture)
            #expect(violation?.isInconsistentView == true, "\(String(describing: violation))")
        }
        try fixture.finish()
        #expect(fixture.sent[1] == reference.sent[1])
    }

    // On a sparse graph the proof is not empty: flipping any bit of any proof digest is refused.
    @Test func flippedProofDigestOnASparseGraph() throws {
        var fixture = try RoundFixture(clients: 16, threshold: 3, graph: .harary(degree: 4))
        try fixture.run(to: .shareKeys)
        guard case let .shareKeysRequest(genuine)? = fixture.toClients[1]?.first else {
            Issue.record("no ShareKeysRequest for client 1"); return
        }
        #expect(genuine.advertisements.count == 5, "client 1 gets its own and its 4 neighbours' advertisements only")
        try #require(!genuine.proof.isEmpty)
        for digest in genuine.proof.indices {
            for byte in [0, 31] {
                var request = genuine
                request.proof[digest] = flipped(request.proof[digest], at: byte)
                let error = try #require(thrownError { try fixture.deliver(.shareKeysRequest(request), to: 1) })
                #expect(coordinatorViolation(error)?.isInconsistentView == true, "\(error)")
            }
        }
        try fixture.deliver(.shareKeysRequest(genuine), to: 1)
        #expect(fixture.sent(by: 1, type: 0x42).count == 1)
    }

    // Too few advertisements for the round's minimum make the client abort the round (and say so), not share.
    @Test func tooFewAdvertisedAborts() throws {
        var (fixture, genuine) = try Self.shareKeysFixture()
        var request = genuine
        request.advertisements = Array(genuine.advertisements.prefix(3))  // 3 < minimumSurvivors 4
        let actions = try fixture.deliver(.shareKeysRequest(try Self.rerooted(request)), to: 1)
        #expect(fixture.sent(by: 1, type: 0x42).isEmpty)
        guard case let .abort(abort)? = fixture.sent[1]?.last else {
            Issue.record("no abort sent: \(actions)"); return
        }
        #expect(abort.code == AbortCode.tooFewAdvertised.rawValue)
        #expect(fixture.clients[1]!.receipt?.outcome == .aborted(code: AbortCode.tooFewAdvertised.rawValue, reason: abort.reason))
    }

    /// A fixture whose MaskedInputRequests wait for the clients, and the one for client 1.
    static func maskedInputFixture() throws -> (RoundFixture, MaskedInputRequest) {
        var fixture = try RoundFixture()
        try fixture.run(to: .maskedInputCollection)
        guard case let .maskedInputRequest(request)? = fixture.toClients[1]?.first else {
            throw FixtureError("no MaskedInputRequest for client 1")
        }
        return (fixture, request)
    }

    // Share bundles addressed to another client, or from a participant that is not a neighbour, are refused.
    @Test func misroutedBundles() throws {
        var reference = try RoundFixture()
        try reference.finish()
        var (fixture, genuine) = try Self.maskedInputFixture()
        #expect(genuine.shares.map(\.sender) == [2, 3, 4, 5])
        #expect(genuine.shares.allSatisfy { $0.recipient == 1 })
        var wrongRecipient = genuine
        wrongRecipient.shares[0].recipient = 3
        var fromSelf = genuine
        fromSelf.shares.insert(EncryptedShare(sender: 1, recipient: 1, ciphertext: genuine.shares[0].ciphertext), at: 0)
        var fromStranger = genuine
        fromStranger.shares.append(EncryptedShare(sender: 6, recipient: 1, ciphertext: genuine.shares[0].ciphertext))
        for bad in [wrongRecipient, fromSelf, fromStranger] {
            let error = try #require(thrownError { try fixture.deliver(.maskedInputRequest(bad), to: 1) })
            #expect(coordinatorViolation(error)?.isInconsistentView == true, "\(error)")
            #expect(fixture.clients[1]!.phase == .shareKeys)
        }
        try fixture.finish()
        #expect(fixture.sent[1] == reference.sent[1])
    }

    // Fewer bundles than the threshold make the client abort (it could not be unmasked), sending no masked input.
    @Test func tooFewBundlesAborts() throws {
        var (fixture, genuine) = try Self.maskedInputFixture()
        var request = genuine
        request.shares = Array(genuine.shares.prefix(2))
        try fixture.deliver(.maskedInputRequest(request), to: 1)
        #expect(fixture.sent(by: 1, type: 0x43).isEmpty)
        #expect(fixture.clients[1]!.receipt?.outcome == .aborted(
            code: AbortCode.tooFewNeighbours.rawValue, reason: fixture.clientAbortReason(1) ?? ""))
    }

    // A bundle that fails authentication is not fatal: the client still masks with that neighbour, holds none of
    // its shares (so reveals nothing for it), and the round still releases the exact sum.
    @Test func corruptedBundleIsSkipped() throws {
        var (fixture, genuine) = try Self.maskedInputFixture()
        var request = genuine
        request.shares[1].ciphertext = flipped(genuine.shares[1].ciphertext, at: 10)
        fixture.toClients[1] = [.maskedInputRequest(request)]
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
        #expect(fixture.revealed(by: 1).map(\.owner) == [2, 4, 5])
    }

    // An aborted outcome ends the round for the client in any state after the invitation; nothing is sent and
    // every later message is a usage error.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func abortedOutcomeInEveryState(mode: RoundMode) throws {
        var reference = try RoundFixture(mode: mode)
        try reference.finish()
        let samples = Self.sampleMessages(reference)
        let roundID = reference.parameters.roundID
        let outcome = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: roundID, result: .aborted(code: 0x0206, reason: "operator")))
        // Before the invitation an abort ends the client too (a round refused before it started, e.g. for an
        // exhausted privacy budget), while a completion for a round it never joined is a violation.
        var early = try RoundFixture(mode: mode)
        #expect(try early.deliver(outcome, to: 1).count == 1)
        #expect(early.clients[1]!.receipt?.outcome == .aborted(code: 0x0206, reason: "operator"))
        let completed = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: roundID, result: .completed(survivorCount: 3)))
        var unexpected = try RoundFixture(mode: mode)
        #expect(coordinatorViolation(try #require(thrownError { try unexpected.deliver(completed, to: 1) }))?.isUnexpectedMessage == true)
        var fixture = try RoundFixture(mode: mode)
        try fixture.start()
        var tested = 0
        while !fixture.coordinator.isFinished {
            try fixture.step()
            guard fixture.toClients[1]?.first != nil else { continue }
            var copy = fixture
            let sentBefore = copy.sent[1]?.count ?? 0
            let actions = try copy.deliver(outcome, to: 1)
            #expect(actions.count == 1)
            #expect(copy.sent[1]?.count ?? 0 == sentBefore)
            #expect(copy.clients[1]!.receipt?.outcome == .aborted(code: 0x0206, reason: "operator"))
            for message in samples {
                #expect(throws: ClientError.usage(.roundFinished)) { try copy.deliver(message, to: 1) }
            }
            #expect(copy.clients[1]!.abort(.cancelled, detail: "again") == nil)
            tested += 1
        }
        #expect(tested == (mode == .active ? 5 : 4))
    }

    // The caller's own abort returns the ClientAbort to send (once) and finishes the client.
    @Test func callerAbort() throws {
        var fixture = try RoundFixture()
        #expect(fixture.clients[1]!.abort(.cancelled, detail: "before") == nil)
        var started = try RoundFixture()
        try started.run(to: .shareKeys)
        let message = started.clients[1]!.abort(.cancelled, detail: "shutting down")
        #expect(message == .abort(ClientAbort(roundID: started.parameters.roundID, code: 0x0206, reason: "shutting down")))
        #expect(started.clients[1]!.abort(.cancelled, detail: "twice") == nil)
        #expect(started.clients[1]!.receipt?.outcome == .aborted(code: 0x0206, reason: "shutting down"))
        _ = fixture
    }

    // Parameters the client cannot accept make it abort with parametersRejected instead of advertising keys.
    @Test func refusesBadParameters() throws {
        var fixture = try RoundFixture()
        try fixture.start()
        guard case var .advertiseKeysRequest(request)? = fixture.toClients[1]?.first else {
            throw FixtureError("no invitation")
        }
        var variants: [AdvertiseKeysRequest] = []
        var bad = request
        bad.parameters.maximumInput = .max  // the sum could wrap
        variants.append(bad)
        bad = request
        bad.parameters.threshold = 1  // below the client's minimum threshold (2)
        bad.parameters.minimumSurvivors = 2
        variants.append(bad)
        bad = request
        bad.participant = 6  // beyond the invited count
        variants.append(bad)
        bad = request
        bad.parameters.dimension = 7  // the input has 6 entries
        variants.append(bad)
        request.parameters.mode = .active
        request.parameters.threshold = 2  // active mode needs 2t > 4
        variants.append(request)
        for variant in variants {
            var copy = fixture
            try copy.deliver(.advertiseKeysRequest(variant), to: 1)
            #expect(copy.sent(by: 1, type: 0x41).isEmpty)
            #expect(copy.sent[1]?.last?.typeCode == 0x46)
            guard case let .aborted(code, _)? = copy.clients[1]!.receipt?.outcome else {
                Issue.record("client did not abort for \(variant.parameters)"); continue
            }
            #expect(code == AbortCode.parametersRejected.rawValue)
        }
    }
}

extension RoundFixture {
    /// The reason of the last ClientAbort client `index` sent.
    func clientAbortReason(_ index: ParticipantIndex) -> String? {
        guard case let .abort(abort)? = sent(by: index, type: 0x46).last else { return nil }
        return abort.reason
    }
}
