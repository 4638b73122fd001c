import SecAggTesting
import Testing
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggSimulation
import SecAggWire

// The client-side safety rule (Bonawitz et al. §4, SPEC §2): whatever a malicious coordinator sends, a client reveals
// shares at most once, never both the self-mask share and the masking-key share of one owner, and in active mode
// only after at least t of its neighbours signed the very survivor set it signed. Here the test plays the coordinator
// once the clients have sent their masked inputs.
@Suite("Malicious coordinator")
struct MaliciousCoordinatorTests {
    static let everyone: [ParticipantIndex] = [1, 2, 3, 4, 5]
    static let without5: [ParticipantIndex] = [1, 2, 3, 4]

    /// Five clients (t = 3, at least 4 survivors) that sent their masked inputs and wait for the survivor set;
    /// the coordinator state machine is out of the picture from here on.
    static func awaitingSurvivors(mode: RoundMode, dropBeforeSharing: ParticipantIndex? = nil) throws -> RoundFixture {
        var fixture = try RoundFixture(mode: mode)
        try fixture.run(to: .shareKeys)
        if let dropBeforeSharing { try fixture.disconnect(dropBeforeSharing) }
        try fixture.run(to: .maskedInputCollection)
        try fixture.deliverToClients()
        fixture.toCoordinator = []
        for index in fixture.indices where !fixture.offline.contains(index) {
            #expect(fixture.clients[index]!.phase == .maskedInputCollection)
        }
        return fixture
    }

    /// Builds the messages a malicious coordinator would send to `recipient`: survivor views of any set it likes,
    /// each with a valid proof under that set's root (SPEC §4.1.9).
    struct Forge {
        let fixture: RoundFixture
        let graph: NeighborGraph
        var recipient: ParticipantIndex = 1
        var roundID: RoundID { fixture.parameters.roundID }

        init(fixture: RoundFixture) throws {
            self.fixture = fixture
            graph = try fixture.graph()
        }

        /// The same forger, addressing `recipient`.
        func to(_ recipient: ParticipantIndex) -> Forge {
            var copy = self
            copy.recipient = recipient
            return copy
        }

        /// The recipient's view of the survivor set `survivors`.
        func view(_ survivors: [ParticipantIndex]) -> SurvivorView {
            SurvivorTree(graph: graph, survivors: Set(survivors)).view(for: recipient)
        }

        func check(_ survivors: [ParticipantIndex]) -> CoordinatorMessage {
            .consistencyCheckRequest(ConsistencyCheckRequest(roundID: roundID, survivors: view(survivors)))
        }

        /// An UnmaskRequest for `survivors` carrying honest signatures by `signers` over `signedSet` (default: the same set).
        func unmask(
            _ survivors: [ParticipantIndex], signedBy signers: [ParticipantIndex] = [], over signedSet: [ParticipantIndex]? = nil,
            extra: [ConsistencySignature] = []
        ) throws -> CoordinatorMessage {
            let signatures = try signers.map { try fixture.consistencySignature(by: $0, over: signedSet ?? survivors) } + extra
            return .unmaskRequest(UnmaskRequest(
                roundID: roundID, survivors: view(survivors), signatures: signatures.sorted { $0.index < $1.index }))
        }
    }

    /// The message with the first status of its survivor view flipped (the proof no longer matches the root).
    static func tamperedStatus(_ message: CoordinatorMessage) -> CoordinatorMessage {
        switch message {
        case var .consistencyCheckRequest(request):
            request.survivors.statuses[0].toggle()
            return .consistencyCheckRequest(request)
        case var .unmaskRequest(request):
            request.survivors.statuses[0].toggle()
            return .unmaskRequest(request)
        default:
            return message
        }
    }

    /// Checks the safety property over everything client `index` ever sent.
    static func expectSafe(_ fixture: RoundFixture, _ index: ParticipantIndex, _ comment: Comment? = nil,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(fixture.sent(by: index, type: 0x45).count <= 1, comment, sourceLocation: sourceLocation)
        #expect(ownersRevealedTwice(fixture.revealed(by: index)) == [], comment, sourceLocation: sourceLocation)
    }

    // Honest-but-curious: the first UnmaskRequest is answered; a second one that flips a neighbour between survivor and
    // dropped (or repeats the first) is refused, so no owner ever has both of its shares revealed by this client.
    @Test(arguments: [true, false])
    func honestButCuriousRevealsOnce(survivorFirst: Bool) throws {
        var fixture = try Self.awaitingSurvivors(mode: .honestButCurious)
        let forge = try Forge(fixture: fixture)
        let listed = try forge.unmask(Self.everyone)
        let dropped = try forge.unmask([1, 3, 4, 5])
        try fixture.deliver(survivorFirst ? listed : dropped, to: 1)
        let first = kindsByOwner(fixture.revealed(by: 1))
        #expect(first[2] == [survivorFirst ? .selfMask : .maskingKey])
        #expect(first.keys.sorted() == [2, 3, 4, 5])
        for again in [survivorFirst ? dropped : listed, listed, dropped, try forge.unmask([1, 2])] {
            let error = try #require(thrownError { try fixture.deliver(again, to: 1) })
            #expect(coordinatorViolation(error)?.isUnexpectedMessage == true, "\(error)")
        }
        Self.expectSafe(fixture, 1)
        #expect(fixture.clients[1]!.phase == .unmasking)
    }

    // Honest-but-curious survivor sets that omit the client, name a participant outside U1, name a neighbour that
    // never shared, or carry consistency signatures are refused; one below the minimum aborts. Nothing is revealed.
    @Test func honestButCuriousBadSurvivorSets() throws {
        var fixture = try Self.awaitingSurvivors(mode: .honestButCurious, dropBeforeSharing: 5)
        let forge = try Forge(fixture: fixture)
        for bad in [
            try forge.unmask([2, 3, 4]),                       // omits the client
            try forge.unmask(Self.everyone),                   // 5 never shared keys
            try forge.unmask(Self.without5, signedBy: [2, 3, 4]),  // signatures in an honest-but-curious round
        ] {
            let error = try #require(thrownError { try fixture.deliver(bad, to: 1) })
            #expect(coordinatorViolation(error)?.isInconsistentView == true, "\(error)")
        }
        #expect(fixture.revealed(by: 1).isEmpty)
        var tooFew = fixture
        try tooFew.deliver(try forge.unmask([1, 2, 3]), to: 1)
        #expect(tooFew.revealed(by: 1).isEmpty)
        #expect(tooFew.clientAbortReason(1) != nil)
        guard case let .aborted(code, _)? = tooFew.clients[1]!.receipt?.outcome else {
            Issue.record("no abort"); return
        }
        #expect(code == AbortCode.tooFewMaskedInputs.rawValue)
        // The honest request still works on the untouched client: U2 = {1, 2, 3, 4}.
        try fixture.deliver(try forge.unmask(Self.without5), to: 1)
        #expect(kindsByOwner(fixture.revealed(by: 1)) == [2: [.selfMask], 3: [.selfMask], 4: [.selfMask]])
    }

    /// Attack sequences against client 1 in an active round; `reveals` says whether an UnmaskResponse must follow.
    static func activeSequences(_ forge: Forge) throws -> [(name: String, messages: [CoordinatorMessage], reveals: Bool)] {
        let all = everyone
        let s5 = without5
        let forged = ConsistencySignature(index: 4, signature: flipped(try forge.fixture.consistencySignature(by: 4, over: all).signature, at: 3))
        return [
            ("unmask before any consistency check", [try forge.unmask(all, signedBy: [2, 3, 4, 5])], false),
            ("a second consistency check is refused", [forge.check(all), forge.check(s5), try forge.unmask(s5, signedBy: [2, 3, 4])], false),
            ("the first signed set is still honoured", [forge.check(all), forge.check(s5), try forge.unmask(s5, signedBy: [2, 3, 4]),
                                                        try forge.unmask(all, signedBy: [2, 3, 4])], true),
            ("asked again after revealing", [forge.check(s5), try forge.unmask(s5, signedBy: [2, 3, 4]),
                                             try forge.unmask(all, signedBy: [2, 3, 4, 5]), forge.check(all),
                                             try forge.unmask(all, signedBy: [2, 3, 4, 5])], true),
            ("fewer than t signatures", [forge.check(all), try forge.unmask(all, signedBy: [2, 3]),
                                         try forge.unmask(all, signedBy: [2, 3, 4])], false),
            ("its own signature does not count", [forge.check(all), try forge.unmask(all, signedBy: [1, 2, 3])], false),
            ("signers outside the survivor set do not count", [forge.check(s5),
                                                              try forge.unmask(s5, signedBy: [2, 3], extra: [try forge.fixture.consistencySignature(by: 5, over: s5)])], false),
            ("a forged signature", [forge.check(all), try forge.unmask(all, signedBy: [2, 3], extra: [forged])], false),
            ("a forged signature, then honest ones", [forge.check(all), try forge.unmask(all, signedBy: [2, 3], extra: [forged]),
                                                      try forge.unmask(all, signedBy: [2, 3, 4])], true),
            ("signatures over another set", [forge.check(all), try forge.unmask(all, signedBy: [2, 3, 4, 5], over: s5)], false),
            ("unmask set differs from the signed one", [forge.check(all), try forge.unmask(s5, signedBy: [2, 3, 4])], false),
            ("survivor set without the client", [forge.check([2, 3, 4, 5]), try forge.unmask([2, 3, 4, 5], signedBy: [2, 3, 4])], false),
            // Version 2 commits to the invited slots only: a stranger has no leaf, so the view is the true set's.
            ("a stranger in the survivor set has no slot", [forge.check([1, 2, 3, 4, 5, 6]),
                                                           try forge.unmask([1, 2, 3, 4, 5, 6], signedBy: [2, 3, 4])], true),
            ("a status flipped under the root", [tamperedStatus(forge.check(all)), forge.check(all),
                                                 try forge.unmask(all, signedBy: [2, 3, 4])], true),
            ("an unmask view with a status flipped", [forge.check(all), tamperedStatus(try forge.unmask(all, signedBy: [2, 3, 4]))], false),
            ("too few survivors", [forge.check([1, 2, 3]), try forge.unmask([1, 2, 3], signedBy: [2, 3])], false),
            ("completed outcome before revealing", [forge.check(all),
                                                    .roundOutcome(RoundOutcome(roundID: forge.roundID, result: .completed(survivorCount: 5))),
                                                    try forge.unmask(all, signedBy: [2, 3])], false),
            ("honest coordinator", [forge.check(all), try forge.unmask(all, signedBy: [2, 3, 4, 5])], true),
        ]
    }

    // Each attack sequence, on a fresh client: it reveals only when t neighbours signed the set it signed, at most once,
    // and never both shares of an owner.
    @Test func activeAttackSequences() throws {
        let base = try Self.awaitingSurvivors(mode: .active)
        let forge = try Forge(fixture: base)
        for sequence in try Self.activeSequences(forge) {
            var fixture = base
            for message in sequence.messages { _ = thrownError { try fixture.deliver(message, to: 1) } }
            let responses = fixture.sent(by: 1, type: 0x45).count
            #expect(responses == (sequence.reveals ? 1 : 0), "\(sequence.name)")
            Self.expectSafe(fixture, 1, "\(sequence.name)")
            if !sequence.reveals, let outcome = fixture.clients[1]!.receipt?.outcome, case .aborted = outcome {
                #expect(fixture.sent(by: 1, type: 0x46).count == 1, "\(sequence.name): an abort is announced")
            }
        }
    }

    // Every client is fed every attack sequence back to back: across all their outputs no owner has both a self-mask
    // and a masking-key share revealed, and in particular the coordinator never holds t of both for anyone.
    @Test func everyClientEveryAttack() throws {
        var fixture = try Self.awaitingSurvivors(mode: .active)
        let forge = try Forge(fixture: fixture)
        var allRevealed: [RevealedShare] = []
        for index in fixture.indices {
            for sequence in try Self.activeSequences(forge.to(index)) {
                for message in sequence.messages {
                    // Shift the attack to this client: it must be in the survivor set it is shown.
                    _ = thrownError { try fixture.deliver(message, to: index) }
                }
            }
            Self.expectSafe(fixture, index, "client \(index)")
            allRevealed += fixture.revealed(by: index)
        }
        // The attacks do get answers (the property is not vacuous): at least client 1 revealed once.
        #expect(!fixture.revealed(by: 1).isEmpty)
        let threshold = Int(fixture.parameters.threshold)
        for owner in fixture.indices {
            let self_ = allRevealed.filter { $0.owner == owner && $0.kind == .selfMask }.count
            let key = allRevealed.filter { $0.owner == owner && $0.kind == .maskingKey }.count
            #expect(!(self_ >= threshold && key >= threshold), "owner \(owner): \(self_) self-mask and \(key) masking-key shares")
            #expect(self_ == 0 || key == 0, "owner \(owner): both kinds revealed")
        }
    }

    // A neighbour that never shared keys cannot be listed as a survivor (its masks could not be removed and the
    // listing is a lie); the client refuses before signing anything.
    @Test func neighbourThatNeverSharedListedAsSurvivor() throws {
        var fixture = try Self.awaitingSurvivors(mode: .active, dropBeforeSharing: 5)
        let forge = try Forge(fixture: fixture)
        let error = try #require(thrownError { try fixture.deliver(forge.check(Self.everyone), to: 1) })
        #expect(coordinatorViolation(error)?.isInconsistentView == true, "\(error)")
        #expect(fixture.sent(by: 1, type: 0x44).isEmpty)
        // The true survivor set is then signed and, with t signatures, answered with self-mask shares of 2, 3, 4 only.
        try fixture.deliver(forge.check(Self.without5), to: 1)
        try fixture.deliver(try forge.unmask(Self.without5, signedBy: [2, 3, 4]), to: 1)
        #expect(kindsByOwner(fixture.revealed(by: 1)) == [2: [.selfMask], 3: [.selfMask], 4: [.selfMask]])
    }

    // Two groups of clients shown different survivor sets (5 survived / 5 dropped): each group is short of t
    // co-signers of its own set, so nobody reveals anything, even with all signatures the coordinator holds.
    @Test func splitViewNobodyReveals() throws {
        var fixture = try Self.awaitingSurvivors(mode: .active)
        let forge = try Forge(fixture: fixture)
        let groupA: [ParticipantIndex] = [1, 2, 5]  // shown everyone
        let groupB: [ParticipantIndex] = [3, 4]     // shown 5 as dropped
        for index in groupA { try fixture.deliver(forge.to(index).check(Self.everyone), to: index) }
        for index in groupB { try fixture.deliver(forge.to(index).check(Self.without5), to: index) }
        let signaturesA = try groupA.map { try fixture.consistencySignature(by: $0, over: Self.everyone) }
        let signaturesB = try groupB.map { try fixture.consistencySignature(by: $0, over: Self.without5) }
        for index in groupA {
            // All of A's signatures: only 2 co-signers. Adding B's (over the other set) is caught as forged.
            _ = thrownError { try fixture.deliver(try forge.to(index).unmask(Self.everyone, extra: signaturesA + signaturesB), to: index) }
            try fixture.deliver(try forge.to(index).unmask(Self.everyone, extra: signaturesA.filter { $0.index != index }), to: index)
        }
        for index in groupB {
            _ = thrownError { try fixture.deliver(try forge.to(index).unmask(Self.without5, extra: signaturesA + signaturesB), to: index) }
            try fixture.deliver(try forge.to(index).unmask(Self.without5, extra: signaturesB.filter { $0.index != index }), to: index)
        }
        for index in fixture.indices {
            #expect(fixture.revealed(by: index).isEmpty, "client \(index) revealed")
            guard case let .aborted(code, _)? = fixture.clients[index]!.receipt?.outcome else {
                Issue.record("client \(index) did not abort"); continue
            }
            #expect(code == AbortCode.consistencyCheckFailed.rawValue)
        }
    }

    // At the boundary: four clients sign one set and one client another. The four have t co-signers each and reveal
    // (self-mask shares only, consistent with their set); the lone client reveals nothing.
    @Test func splitViewOnlyTheMajorityReveals() throws {
        var fixture = try Self.awaitingSurvivors(mode: .active)
        let forge = try Forge(fixture: fixture)
        let majority: [ParticipantIndex] = [1, 2, 3, 5]
        for index in majority { try fixture.deliver(forge.to(index).check(Self.everyone), to: index) }
        try fixture.deliver(forge.to(4).check(Self.without5), to: 4)
        let signatures = try majority.map { try fixture.consistencySignature(by: $0, over: Self.everyone) }
        for index in majority {
            try fixture.deliver(try forge.to(index).unmask(Self.everyone, extra: signatures.filter { $0.index != index }), to: index)
        }
        _ = thrownError { try fixture.deliver(try forge.to(4).unmask(Self.without5, signedBy: [4]), to: 4) }
        for index in majority {
            #expect(fixture.revealed(by: index).allSatisfy { $0.kind == .selfMask })
            #expect(fixture.revealed(by: index).count == 4)
        }
        #expect(fixture.revealed(by: 4).isEmpty)
        let all = fixture.indices.flatMap { fixture.revealed(by: $0) }
        #expect(ownersRevealedTwice(all) == [])
    }

    // The limitation of honest-but-curious mode (SPEC 2.2, 11.10), pinned: owner 5 has k = 4 holders; with c = 2 of
    // them corrupt (they answer both ways), a coordinator that tells honest client 1 "5 survived" and honest client 2
    // "5 dropped" collects t = 3 shares of each of 5's secrets (k ≥ 2t − c). Each honest client alone still revealed
    // one kind per owner. This is the documented weakness, not a guarantee; active mode is the defence.
    @Test func honestButCuriousFallsToCorruptHolders() throws {
        let base = try Self.awaitingSurvivors(mode: .honestButCurious)
        let forge = try Forge(fixture: base)
        var fixture = base
        try fixture.deliver(try forge.unmask(Self.everyone), to: 1)
        try fixture.deliver(try forge.to(2).unmask(Self.without5), to: 2)
        Self.expectSafe(fixture, 1)
        Self.expectSafe(fixture, 2)
        var shares = fixture.revealed(by: 1) + fixture.revealed(by: 2)
        // A corrupt holder is modelled by running its state on two copies, one answer each.
        for corrupt: ParticipantIndex in [3, 4] {
            for survivors in [Self.everyone, Self.without5] {
                var copy = base
                try copy.deliver(try forge.to(corrupt).unmask(survivors), to: corrupt)
                shares += copy.revealed(by: corrupt)
            }
        }
        let ofVictim = shares.filter { $0.owner == 5 }
        #expect(ofVictim.filter { $0.kind == .selfMask }.count == 3)
        #expect(ofVictim.filter { $0.kind == .maskingKey }.count == 3)
    }

    // SecAgg+ on a sparse graph: a client holds shares of its k neighbours only, so naming non-neighbours as
    // survivors or as dropped gets the coordinator nothing of theirs (asking for non-neighbours' shares is futile),
    // and in active mode valid signatures by non-neighbours do not count towards t.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func nonNeighboursGetNothing(mode: RoundMode) throws {
        var fixture = try RoundFixture(clients: 8, threshold: 3, mode: mode, graph: .harary(degree: 4))
        try fixture.run(to: .maskedInputCollection)
        try fixture.deliverToClients()
        fixture.toCoordinator = []
        let graph = try fixture.graph()
        let neighbours = fixture.indices.filter { $0 != 1 && graph.areNeighbors(1, $0) }
        let strangers = fixture.indices.filter { $0 != 1 && !graph.areNeighbors(1, $0) }
        try #require(neighbours.count == 4 && strangers.count == 3)
        // One non-neighbour listed as dropped, the others as survivors.
        let survivors = fixture.indices.filter { $0 != strangers[0] }
        let forge = try Forge(fixture: fixture)
        if mode == .active {
            try fixture.deliver(forge.check(survivors), to: 1)
            // Two neighbours and two non-neighbours signed: version 2 sends a client its neighbours' signatures only,
            // so non-neighbours' are refused outright (they would not count towards t = 3 either).
            var refused = fixture
            let signers = (Array(neighbours.prefix(2)) + strangers.dropFirst()).sorted()
            let error = try #require(thrownError { try refused.deliver(try forge.unmask(survivors, signedBy: signers), to: 1) })
            #expect(coordinatorViolation(error)?.isInconsistentView == true, "\(error)")
            #expect(refused.revealed(by: 1).isEmpty, "non-neighbours' signatures made the client reveal")
            try fixture.deliver(try forge.unmask(survivors, signedBy: Array(neighbours.prefix(3))), to: 1)
        } else {
            try fixture.deliver(try forge.unmask(survivors), to: 1)
        }
        let revealed = kindsByOwner(fixture.revealed(by: 1))
        #expect(revealed.keys.sorted() == neighbours, "shares of non-neighbours revealed: \(revealed)")
        #expect(revealed.values.allSatisfy { $0 == [.selfMask] })
    }

    // The client counts distinct co-signers: the same neighbour's signature repeated t times is one signature.
    // (The wire decoder already rejects repeated indices; the state machine must not depend on it.)
    @Test func repeatedSignerCountsOnce() throws {
        var fixture = try Self.awaitingSurvivors(mode: .active)
        let forge = try Forge(fixture: fixture)
        try fixture.deliver(forge.check(Self.everyone), to: 1)
        let signature = try fixture.consistencySignature(by: 2, over: Self.everyone)
        let request = CoordinatorMessage.unmaskRequest(UnmaskRequest(
            roundID: forge.roundID, survivors: forge.view(Self.everyone), signatures: [signature, signature, signature]))
        _ = thrownError { try fixture.deliver(request, to: 1) }
        #expect(fixture.revealed(by: 1).map(\.owner) == [], "one co-signer repeated three times made the client reveal")
    }

    // The client counts distinct survivors: a survivor list padded with repeats of itself does not meet the minimum.
    // (The wire decoder already rejects repeats; the state machine must not depend on it.)
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func repeatedSurvivorsCountOnce(mode: RoundMode) throws {
        var fixture = try Self.awaitingSurvivors(mode: mode)
        let forge = try Forge(fixture: fixture)
        let padded: [ParticipantIndex] = [1, 1, 1, 1]
        if mode == .active {
            _ = thrownError { try fixture.deliver(forge.check(padded), to: 1) }
            _ = thrownError { try fixture.deliver(try forge.unmask(padded, extra: [
                try fixture.consistencySignature(by: 1, over: padded)]), to: 1) }
            #expect(fixture.sent(by: 1, type: 0x44).count == 0, "signed a survivor set with one distinct member")
        } else {
            _ = thrownError { try fixture.deliver(try forge.unmask(padded), to: 1) }
        }
        #expect(fixture.revealed(by: 1).map(\.owner) == [], "revealed for a survivor set with one distinct member")
    }
}
