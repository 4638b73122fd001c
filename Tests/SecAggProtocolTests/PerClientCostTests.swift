import SecAggTesting
import Testing
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// Protocol version 2's reason for being (SPEC §11.11): what one client receives grows with k · log n, not with n.
/// These tests count bytes of the real coordinator's messages; they are not timings.
@Suite("Per-client cost")
struct PerClientCostTests {
    /// The coordinator of an n-client SecAgg+ round (auto k and t for 5 % dropout) after phase 0, with every
    /// client's ShareKeysRequest: (parameters, the requests by recipient, the graph).
    static func afterAdvertising(
        clients count: Int, dropped: Set<ParticipantIndex> = [], pinned: SecAggPlusParameters? = nil
    ) throws -> (RoundParameters, [ParticipantIndex: ShareKeysRequest], NeighborGraph) {
        let found = try pinned ?? ParameterFinder.find(
            clientCount: count, dropoutRate: 0.05, corruptRate: 0.05, model: .honestButCurious)
        var random = SeededRandom(seed: UInt64(count), stream: "per-client-cost")
        let parameters = RoundParameters(
            roundID: try #require(RoundID(bytes: random.bytes(16))), taskName: "cost", dimension: 10, bits: 32,
            maximumInput: 1, graph: .harary(degree: UInt32(found.degree)), threshold: UInt32(found.threshold),
            minimumSurvivors: UInt32(found.threshold + 1), mode: .honestButCurious, invitedCount: UInt32(count),
            nonce: random.bytes(32))
        var identities: [ParticipantIndex: Ed25519.SigningKey] = [:]
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for index in 1...UInt32(count) {
            let key = Ed25519.SigningKey(using: &random)
            identities[index] = key
            roster[index] = RosterEntry(identity: key.verifyingKey)
        }
        var coordinator = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
            parameters: parameters, roster: roster, unmaskingWorkers: 1))
        let now = ProtocolInstant(nanoseconds: 1)
        _ = try coordinator.start(now: now)
        let digest = Derivation.roundDigest(parameters)
        for index in 1...UInt32(count) where !dropped.contains(index) {
            let encryption = X25519.PrivateKey(using: &random).publicKey.rawRepresentation
            let masking = X25519.PrivateKey(using: &random).publicKey.rawRepresentation
            let signature = identities[index]!.signature(for: Derivation.advertisementMessage(
                roundDigest: digest, index: index, encryptionKey: encryption, maskingKey: masking))
            _ = try coordinator.handle(.advertiseKeys(AdvertiseKeys(
                roundID: parameters.roundID, encryptionKey: encryption, maskingKey: masking,
                signature: signature.rawRepresentation)), from: index, now: now)
        }
        var requests: [ParticipantIndex: ShareKeysRequest] = [:]
        for action in coordinator.advance(now: now).expandingRequests() {
            guard case let .send(.shareKeysRequest(request), recipients) = action else { continue }
            for recipient in recipients { requests[recipient] = request }
        }
        let any = try #require(requests.values.first)
        let sessionID = Derivation.sessionID(
            roundDigest: digest, advertisedCount: any.advertisedCount, advertisementRoot: any.advertisementRoot)
        return (parameters, requests, try Derivation.neighbourGraph(parameters: parameters, sessionID: sessionID))
    }

    // Each client's ShareKeysRequest holds exactly its own advertisement and its neighbours' in U1, and its proof
    // verifies for them, with the absent neighbours (dropped in phase 0) proven absent.
    @Test func shareKeysRequestHoldsExactlyTheNeighbourhood() throws {
        let dropped: Set<ParticipantIndex> = [3, 17, 40, 41, 99]
        let (parameters, requests, graph) = try Self.afterAdvertising(clients: 120, dropped: dropped)
        #expect(requests.count == 120 - dropped.count)
        for (recipient, request) in requests {
            let neighbours = graph.neighbors(of: recipient)
            let expected = ([recipient] + neighbours).filter { !dropped.contains($0) }.sorted()
            #expect(request.advertisements.map(\.index) == expected, "recipient \(recipient)")
            #expect(request.advertisedCount == UInt32(120 - dropped.count))
            let listed = try AdvertisementTree.verify(
                request, recipient: recipient, neighbours: neighbours, invitedCount: Int(parameters.invitedCount))
            #expect(Set(listed.keys) == Set(expected))
        }
    }

    // The bytes one client downloads in phases 1 to 4 (its ShareKeysRequest, a MaskedInputRequest with one bundle
    // per neighbour, its survivor view) grow with k · log n, not with n: at a fixed degree, ten times the clients
    // cost less than 1.5 times the bytes; with the finder's k (20 at n = 200, 30 at n = 2000) less than 2.5 times.
    // Version 1 sent every client all of U1 (165 bytes per client) and all of U3: ten times the clients cost about
    // ten times the bytes.
    @Test func downloadGrowsLogarithmically() throws {
        func download(clients count: Int, pinned: SecAggPlusParameters? = nil) throws -> Double {
            let (parameters, requests, graph) = try Self.afterAdvertising(clients: count, pinned: pinned)
            let survivors = Set(1...UInt32(count))
            let tree = SurvivorTree(graph: graph, survivors: survivors)
            var total = 0
            for (recipient, request) in requests {
                let neighbours = graph.neighbors(of: recipient)
                let bundles = neighbours.map {
                    EncryptedShare(sender: $0, recipient: recipient, ciphertext: [UInt8](repeating: 0, count: 108))
                }
                let view = tree.view(for: recipient)
                total += CoordinatorMessage.shareKeysRequest(request).encoded.count
                total += CoordinatorMessage.maskedInputRequest(MaskedInputRequest(
                    roundID: parameters.roundID, shares: bundles)).encoded.count
                total += CoordinatorMessage.unmaskRequest(UnmaskRequest(
                    roundID: parameters.roundID, survivors: view, signatures: [])).encoded.count
            }
            return Double(total) / Double(requests.count)
        }
        let fixed = SecAggPlusParameters(degree: 20, threshold: 11)
        let small = try download(clients: 200, pinned: fixed)
        let large = try download(clients: 2_000, pinned: fixed)
        #expect(large < 1.5 * small, "\(large) bytes per client at n = 2000 against \(small) at n = 200 (k = 20)")
        let smallAuto = try download(clients: 200)
        let largeAuto = try download(clients: 2_000)
        #expect(largeAuto < 2.5 * smallAuto, "\(largeAuto) bytes per client at n = 2000 against \(smallAuto) at n = 200")
        // And in absolute terms: far below what one copy of U1 alone would be at n = 2000.
        #expect(large < 165 * 2_000 / 10)
    }
}
