import SecAggTesting
import Testing
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggWire

// SecAgg+ on a Harary graph of odd degree k: when |U1| is odd, one client has k + 1 neighbours. With 2t = k + 1 a
// coordinator that shows half of that client's neighbours "it survived" and the other half "it dropped" collects t
// self-mask shares and t masking-key shares of the same client and can unmask its input. The validation rule
// 2t > max neighbours (k + 1 for odd k) closes this; these tests pin both halves.
@Suite("Active mode on odd-degree Harary graphs")
struct OddDegreeAttackTests {
    /// Who reveals, and how many shares of `victim`'s two secrets the coordinator collects, when the clients in
    /// `firstGroup` (always including the victim) sign S1 = U1 and the others sign S2 = U1 \ {victim}, and every
    /// client is then handed all signatures of its own group.
    static func model(graph: NeighborGraph, victim: UInt32, threshold: Int, firstGroup: Set<UInt32>)
        -> (revealing: Set<UInt32>, selfMask: Int, maskingKey: Int) {
        var revealing: Set<UInt32> = []
        for client in graph.participants {
            let inFirst = firstGroup.contains(client)
            let cosigners = graph.neighbors(of: client).filter { firstGroup.contains($0) == inFirst }
            if cosigners.count >= threshold { revealing.insert(client) }
        }
        let holders = graph.neighbors(of: victim).filter { revealing.contains($0) }
        let selfMask = holders.filter { firstGroup.contains($0) }.count
        return (revealing, selfMask, holders.count - selfMask)
    }

    /// The split that gets the coordinator the most of both kinds of the victim's shares (exhaustive search).
    static func strongestSplit(graph: NeighborGraph, victim: UInt32, threshold: Int)
        -> (firstGroup: Set<UInt32>, revealing: Set<UInt32>, selfMask: Int, maskingKey: Int) {
        let others = graph.participants.filter { $0 != victim }
        var best: (firstGroup: Set<UInt32>, revealing: Set<UInt32>, selfMask: Int, maskingKey: Int)?
        for mask in 0..<(1 << others.count) {
            var group: Set<UInt32> = [victim]
            for (bit, client) in others.enumerated() where mask & (1 << bit) != 0 { group.insert(client) }
            let outcome = model(graph: graph, victim: victim, threshold: threshold, firstGroup: group)
            let score = (min(outcome.selfMask, outcome.maskingKey), outcome.selfMask + outcome.maskingKey)
            if let current = best, (min(current.selfMask, current.maskingKey), current.selfMask + current.maskingKey) >= score { continue }
            best = (group, outcome.revealing, outcome.selfMask, outcome.maskingKey)
        }
        return best!
    }

    // k = 3 and t = 2 on 7 clients (2t = k + 1): the coordinator refuses the parameters, and so does an invited client.
    @Test func thresholdAtHalfOfKPlusOneIsRefused() throws {
        let error = try #require(thrownError { _ = try RoundFixture(clients: 7, threshold: 2, mode: .active, graph: .harary(degree: 3)) })
        guard case let .invalidParameters(.invalidField(field, _))? = error as? UsageError else {
            Issue.record("unexpected error \(error)"); return
        }
        #expect(field == "threshold")

        var fixture = try RoundFixture(clients: 7, threshold: 3, mode: .active, graph: .harary(degree: 3))
        try fixture.start()
        guard case var .advertiseKeysRequest(invitation)? = fixture.toClients[1]?.first else { throw FixtureError("no invitation") }
        invitation.parameters.threshold = 2
        invitation.parameters.minimumSurvivors = 3
        try fixture.deliver(.advertiseKeysRequest(invitation), to: 1)
        #expect(fixture.sent(by: 1, type: 0x41).isEmpty)
        guard case let .aborted(code, _)? = fixture.clients[1]!.receipt?.outcome else {
            Issue.record("client joined a round with 2t = k + 1"); return
        }
        #expect(code == AbortCode.parametersRejected.rawValue)
    }

    // At the smallest accepted threshold (t = 3 for k = 3), the strongest split-view attack on the client with k + 1
    // neighbours, run against the real clients, leaves the coordinator short of t shares of one kind; the same graph
    // at t = 2 would have given it t of both (which is why t = 2 is refused).
    @Test func strongestSplitViewFails() throws {
        var fixture = try RoundFixture(clients: 7, threshold: 3, mode: .active, graph: .harary(degree: 3), dimension: 4)
        try fixture.run(to: .maskedInputCollection)
        try fixture.deliverToClients()
        fixture.toCoordinator = []
        let graph = try fixture.graph()
        let victim = try #require(graph.participants.first { graph.neighbors(of: $0).count == 4 }, "no node of degree k + 1")
        #expect(graph.participants.filter { graph.neighbors(of: $0).count == 4 }.count == 1)

        let weak = Self.strongestSplit(graph: graph, victim: victim, threshold: 2)
        #expect(weak.selfMask >= 2 && weak.maskingKey >= 2, "at t = 2 the split-view attack would succeed")

        let split = Self.strongestSplit(graph: graph, victim: victim, threshold: 3)
        #expect(min(split.selfMask, split.maskingKey) < 3)

        // Run that split against the real clients; and, as a control, the honest view (everyone signs U1).
        let everyone = Set(graph.participants)
        for firstGroup in [split.firstGroup, everyone] {
            var attacked = fixture
            let expected = Self.model(graph: graph, victim: victim, threshold: 3, firstGroup: firstGroup).revealing
            let all = try Self.execute(split: firstGroup, victim: victim, on: &attacked)
            let revealing = Set(graph.participants.filter { !attacked.revealed(by: $0).isEmpty })
            #expect(revealing == expected, "the clients' decisions match the model")
            if firstGroup == everyone { #expect(revealing == everyone) }
            for owner in graph.participants {
                let selfMask = all.filter { $0.owner == owner && $0.kind == .selfMask }.count
                let maskingKey = all.filter { $0.owner == owner && $0.kind == .maskingKey }.count
                #expect(selfMask < 3 || maskingKey < 3, "owner \(owner): \(selfMask) self-mask and \(maskingKey) masking-key shares")
            }
        }
    }

    /// Shows U1 to `split` (which holds the victim) and U1 \ {victim} to everyone else, collects each client's real
    /// consistency signature, hands every client all signatures of its own group, and returns every share revealed.
    static func execute(split: Set<UInt32>, victim: UInt32, on fixture: inout RoundFixture) throws -> [RevealedShare] {
        let first = fixture.indices
        let second = first.filter { $0 != victim }
        let roundID = fixture.parameters.roundID
        for client in first {
            let set = split.contains(client) ? first : second
            try fixture.deliver(.consistencyCheckRequest(ConsistencyCheckRequest(
                roundID: roundID, survivors: try fixture.survivorView(for: client, survivors: set))), to: client)
        }
        let graph = try fixture.graph()
        var signatures: [UInt32: ConsistencySignature] = [:]
        for client in first {
            guard case let .consistencyResponse(response)? = fixture.sent(by: client, type: 0x44).first else {
                throw FixtureError("client \(client) did not sign")
            }
            signatures[client] = ConsistencySignature(index: client, signature: response.signature)
        }
        for client in first {
            let inFirst = split.contains(client)
            // The signatures of its own group that a client can check: its neighbours' (SPEC §4.7).
            let group = first.filter { split.contains($0) == inFirst && graph.areNeighbors(client, $0) }
            let request = UnmaskRequest(
                roundID: roundID, survivors: try fixture.survivorView(for: client, survivors: inFirst ? first : second),
                signatures: group.map { signatures[$0]! })
            try fixture.deliver(.unmaskRequest(request), to: client)
        }
        return first.flatMap { fixture.revealed(by: $0) }
    }
}
