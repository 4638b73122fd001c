import Logging
import NIOCore
import SecAggClient
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// A malicious coordinator over real TCP (issue 7, SPEC §11.10): a test-only coordinator built on
/// ``SecureTransport`` that runs the honest ``CoordinatorStateMachine`` as far as a script lets it and then deviates,
/// against real ``SecAggClient``s. Each test checks the error each client reports and everything it sent: honest
/// clients abort or refuse, and no owner ever has both its self-mask share and its masking-key share revealed.
///
/// The sans-IO suite ("Malicious coordinator", "Client rejects bad coordinator input") tries many more variants on
/// the state machine; these show that the client library, its transport and its error reporting hold the same line.
@Suite("Scripted malicious coordinator over TCP", .serialized, .timeLimit(.minutes(2)))
struct ScriptedCoordinatorTests {
    static let everyone: [ParticipantIndex] = [1, 2, 3, 4, 5]
    static let without5: [ParticipantIndex] = [1, 2, 3, 4]

    // The harness itself: followed honestly, the script releases exactly the sum and every client completes.
    @Test("an honest script completes with the exact sum", arguments: [RoundMode.honestButCurious, .active])
    func honestBaseline(mode: RoundMode) async throws {
        let run = try await ScriptedCoordinator.run(mode: mode) { round in
            try await round.honest()
            return round.machine.result?.sum.values
        }
        for index in Self.everyone {
            #expect(try run.receipt(index).outcome == .completed(survivorCount: 5))
        }
        #expect(run.script == ScriptedCoordinator.expectedSum(of: Self.everyone))
        #expect(ownersRevealedTwice(run.transcript.allRevealed) == [])
    }

    // Replays the ShareKeysRequest of an earlier round (same clients, same coordinator key) into a new round: as
    // sent, it names the old round id and is refused as wrong-round; relabelled with the new round id and carrying
    // the recipient's own fresh advertisement, the neighbours' old advertisements fail their signatures (which
    // cover the old round digest). Either way no client deals shares.
    @Test("a replayed round's ShareKeysRequest is refused, as is and relabelled", arguments: [false, true])
    func replayedRound(relabelled: Bool) async throws {
        let old = try await ScriptedCoordinator.run(mode: .active) { round in
            try await round.honest()
            return try round.shareKeysRequestSent()
        }
        let oldRequest = old.script
        let run = try await ScriptedCoordinator.run(mode: .active) { round in
            try await round.honest(until: .shareKeys)
            guard case let .shareKeysRequest(current)? = round.held[1] else {
                Issue.record("no ShareKeysRequest held")
                return ()
            }
            #expect(oldRequest.roundID != current.roundID)
            for index in round.everyone {
                var replay = oldRequest
                if relabelled {
                    // The cleverer replay: this round's id and the recipient's own fresh advertisement, the
                    // neighbours' advertisements from the old round, under a root recomputed over them (the graph is
                    // complete: everyone is a neighbour).
                    guard case let .shareKeysRequest(own)? = round.held[index],
                          let fresh = own.advertisements.first(where: { $0.index == index }) else {
                        Issue.record("no ShareKeysRequest held for \(index)")
                        return ()
                    }
                    let mixed = oldRequest.advertisements.map { $0.index == index ? fresh : $0 }
                    let tree = try AdvertisementTree(invitedCount: 5, advertisements: mixed)
                    replay = tree.request(
                        for: index, neighbours: round.everyone.filter { $0 != index }, roundID: current.roundID)
                }
                try await round.send(.shareKeysRequest(replay), to: index)
            }
            try await round.drain()
            return ()
        }
        for index in Self.everyone {
            let error = try #require(run.violation(index), "client \(index) did not refuse")
            #expect(error.contains(relabelled ? "signature" : "round"), "\(error)")
            #expect(run.transcript.sent(by: index, type: 0x42).isEmpty, "client \(index) dealt shares")
            #expect(run.transcript.abortCode(of: index) == AbortCode.coordinatorMisbehaved.rawValue)
        }
    }

    // A neighbour's advertisement with substituted keys: without an enrollment authority the keys must still
    // carry the neighbour's signature, so swapping them is caught; with an authority, swapping in a whole identity
    // of the coordinator's own (self-signed) is caught by the missing endorsement.
    @Test("a substituted advertisement is refused", arguments: [false, true])
    func substitutedKey(withAuthority: Bool) async throws {
        let run = try await ScriptedCoordinator.run(mode: .active, authority: withAuthority) { round in
            try await round.honest(until: .shareKeys)
            guard case var .shareKeysRequest(request)? = round.held[1] else {
                Issue.record("no ShareKeysRequest held")
                return ()
            }
            var random = SystemRandom()
            let position = try #require(request.advertisements.firstIndex { $0.index == 2 })
            var fake = request.advertisements[position]
            let keys = (X25519.PrivateKey(using: &random), X25519.PrivateKey(using: &random))
            fake.encryptionKey = keys.0.publicKey.rawRepresentation
            fake.maskingKey = keys.1.publicKey.rawRepresentation
            if withAuthority {
                // The coordinator's own identity, correctly self-signed; it has no endorsement to show.
                let impostor = Ed25519.SigningKey(using: &random)
                fake.identityKey = impostor.verifyingKey.rawRepresentation
                fake.signature = impostor.signature(for: Derivation.advertisementMessage(
                    roundDigest: Derivation.roundDigest(round.parameters), index: 2,
                    encryptionKey: fake.encryptionKey, maskingKey: fake.maskingKey)).rawRepresentation
            }
            request.advertisements[position] = fake
            // Client 1 gets the doctored set under a root the coordinator recomputed for it (so the proof holds and
            // only the signature can give the substitution away), the others their genuine requests.
            let doctored = try AdvertisementTree(invitedCount: 5, advertisements: request.advertisements)
            try await round.send(.shareKeysRequest(doctored.request(
                for: 1, neighbours: [2, 3, 4, 5], roundID: request.roundID)), to: 1)
            for index in [2, 3, 4, 5] as [ParticipantIndex] {
                try await round.send(try #require(round.held[index]), to: index)
            }
            try await round.drain(endingTheRound: true)
            return ()
        }
        let error = try #require(run.violation(1), "client 1 accepted a substituted key")
        #expect(error.contains(withAuthority ? "endorsement" : "signature"), "\(error)")
        #expect(run.transcript.sent(by: 1, type: 0x42).isEmpty, "client 1 dealt shares")
        #expect(run.transcript.abortCode(of: 1) == AbortCode.coordinatorMisbehaved.rawValue)
    }

    // Split view in active mode: clients 1, 2, 5 are told everyone survived, 3 and 4 that 5 dropped. Each group
    // gets every signature of its own group (two co-signers, below t = 3) and the round ends for everyone in
    // consistencyCheckFailed. Passing the other group's signatures off as signatures over this set is caught as a
    // bad signature. Nobody reveals a share.
    @Test("a split survivor view makes every client abort without revealing", arguments: [false, true])
    func splitView(mixInOtherGroup: Bool) async throws {
        let groupA: [ParticipantIndex] = [1, 2, 5]
        let groupB: [ParticipantIndex] = [3, 4]
        let run = try await ScriptedCoordinator.run(mode: .active) { round in
            try await round.honest(until: .consistencyCheck)
            let id = round.parameters.roundID
            for index in groupA {
                try await round.send(.consistencyCheckRequest(.init(roundID: id, survivors: try round.view(Self.everyone, for: index))), to: index)
            }
            for index in groupB {
                try await round.send(.consistencyCheckRequest(.init(roundID: id, survivors: try round.view(Self.without5, for: index))), to: index)
            }
            let signatures = try await round.signatures(from: Set(Self.everyone))
            let signedA = groupA.compactMap { signatures[$0] }
            let signedB = groupB.compactMap { signatures[$0] }
            // Each client gets its co-signers' signatures (its own left out, as a coordinator sends only neighbours').
            for index in groupA {
                let signatures = (mixInOtherGroup ? (signedA + signedB).sortedByIndex : signedA).filter { $0.index != index }
                try await round.send(.unmaskRequest(.init(
                    roundID: id, survivors: try round.view(Self.everyone, for: index), signatures: signatures)), to: index)
            }
            for index in groupB {
                let signatures = (mixInOtherGroup ? (signedA + signedB).sortedByIndex : signedB).filter { $0.index != index }
                try await round.send(.unmaskRequest(.init(
                    roundID: id, survivors: try round.view(Self.without5, for: index), signatures: signatures)), to: index)
            }
            try await round.drain()
            return ()
        }
        #expect(run.transcript.allRevealed.isEmpty, "a client revealed shares")
        for index in Self.everyone {
            if mixInOtherGroup {
                let error = try #require(run.violation(index), "client \(index)")
                #expect(error.contains("signature"), "\(error)")
            } else {
                guard case let .aborted(code, _) = try run.receipt(index).outcome else {
                    Issue.record("client \(index) did not abort"); continue
                }
                #expect(code == AbortCode.consistencyCheckFailed.rawValue)
            }
        }
    }

    /// Ways to tamper with the consistency signatures of an UnmaskRequest (t = 3; each client needs three others).
    enum SignatureAttack: CaseIterable, Sendable {
        /// Only two co-signers' signatures.
        case fewerThanT
        /// One co-signer's signature three times over (the decoder refuses repeated indices).
        case duplicated
        /// Two genuine signatures and one with a flipped bit.
        case forged
        /// Three genuine signatures over another survivor set.
        case wrongSet
    }

    // After an honest consistency check, the UnmaskRequest carries too few, duplicated, forged or wrong-set
    // signatures: every client aborts or refuses, and nobody reveals a share.
    @Test("bad consistency signatures make clients refuse to reveal", arguments: SignatureAttack.allCases)
    func badSignatures(_ attack: SignatureAttack) async throws {
        let run = try await ScriptedCoordinator.run(mode: .active) { round in
            try await round.honest(until: .consistencyCheck)
            let id = round.parameters.roundID
            let checked: [ParticipantIndex] = attack == .wrongSet ? Self.without5 : Self.everyone
            // For the wrong-set attack the clients sign U = {1..4}; the request then names everyone.
            for index in Self.everyone {
                try await round.send(.consistencyCheckRequest(.init(roundID: id, survivors: try round.view(checked, for: index))), to: index)
            }
            let signatures = try await round.signatures(from: Set(Self.everyone))
            for index in Self.everyone {
                let others = Self.everyone.filter { $0 != index }.compactMap { signatures[$0] }
                let sent: [ConsistencySignature]
                switch attack {
                case .fewerThanT: sent = Array(others.prefix(2))
                case .duplicated: sent = [others[0], others[0], others[0]]
                case .forged:
                    var bad = others[2]
                    bad.signature[5] ^= 1
                    sent = [others[0], others[1], bad]
                case .wrongSet: sent = others
                }
                try await round.send(.unmaskRequest(.init(
                    roundID: id, survivors: try round.view(Self.everyone, for: index), signatures: sent)), to: index)
            }
            try await round.drain(endingTheRound: true)
            return ()
        }
        #expect(run.transcript.allRevealed.isEmpty, "a client revealed shares")
        for index in Self.everyone {
            switch attack {
            case .fewerThanT:
                guard case let .aborted(code, _) = try run.receipt(index).outcome else {
                    Issue.record("client \(index) did not abort"); continue
                }
                #expect(code == AbortCode.consistencyCheckFailed.rawValue)
            case .duplicated, .forged, .wrongSet:
                let error = try #require(run.violation(index), "client \(index)")
                // Client 5 was left out of the set it was asked to sign and refused then.
                let expected = attack == .wrongSet ? (index == 5 ? "missing" : "differs") : attack == .forged ? "signature" : "malformed"
                #expect(error.contains(expected), "\(error)")
                #expect(run.transcript.abortCode(of: index) == AbortCode.coordinatorMisbehaved.rawValue)
            }
        }
    }

    // A client listed as alive and then as dropped: in honest-but-curious mode the first UnmaskRequest (everyone
    // survived) is answered with self-mask shares; a second one naming 5 as dropped is refused, so no client ever
    // sends a masking-key share of 5. In active mode a second ConsistencyCheckRequest is refused likewise.
    @Test("listing a client as alive, then dropped, is refused", arguments: [RoundMode.honestButCurious, .active])
    func aliveThenDropped(mode: RoundMode) async throws {
        let run = try await ScriptedCoordinator.run(mode: mode) { round in
            let id = round.parameters.roundID
            if mode == .active {
                try await round.honest(until: .consistencyCheck)
                for index in Self.everyone {
                    try await round.send(.consistencyCheckRequest(.init(roundID: id, survivors: try round.view(Self.everyone, for: index))), to: index)
                }
                _ = try await round.signatures(from: Set(Self.everyone))
                for index in Self.everyone {
                    try await round.send(.consistencyCheckRequest(.init(roundID: id, survivors: try round.view(Self.without5, for: index))), to: index)
                }
            } else {
                try await round.honest(until: .unmasking)
                for index in Self.everyone {
                    try await round.send(.unmaskRequest(.init(roundID: id, survivors: try round.view(Self.everyone, for: index), signatures: [])), to: index)
                }
                _ = try await round.answers(from: Set(Self.everyone))
                for index in Self.everyone {
                    try await round.send(.unmaskRequest(.init(roundID: id, survivors: try round.view(Self.without5, for: index), signatures: [])), to: index)
                }
            }
            try await round.drain()
            return ()
        }
        for index in Self.everyone {
            let error = try #require(run.violation(index), "client \(index)")
            #expect(error.contains("unexpected"), "\(error)")
            #expect(run.transcript.sent(by: index, type: 0x45).count == (mode == .active ? 0 : 1))
            #expect(run.transcript.revealed(by: index).allSatisfy { $0.kind == .selfMask })
        }
        #expect(ownersRevealedTwice(run.transcript.allRevealed) == [])
    }
}

// MARK: - The scripted coordinator

/// Runs one round between a scripted coordinator and five real ``SecAggClient``s on loopback.
enum ScriptedCoordinator {
    static let coordinatorKey = key("coordinator")
    static let clientKeys: [ParticipantIndex: Ed25519.SigningKey] = Dictionary(
        uniqueKeysWithValues: (1...5).map { (ParticipantIndex($0), key("client-\($0)")) })
    static let authorityKey = key("authority")
    /// Generous: the suite runs beside the others on a loaded machine, and a client whose handshake timed out
    /// would only turn into a failed join.
    static let limits = TransportLimits(handshakeTimeout: .seconds(30), idleTimeout: .seconds(60))

    static func key(_ name: String) -> Ed25519.SigningKey {
        var random = SeededRandom(seed: 7, stream: "scripted-\(name)")
        return Ed25519.SigningKey(using: &random)
    }

    static func input(_ index: ParticipantIndex) -> [UInt64] {
        (0..<4).map { UInt64(($0 * 53 + Int(index) * 211) % 1001) }
    }

    static func expectedSum(of survivors: [ParticipantIndex]) -> [UInt64] {
        (0..<4).map { position in survivors.reduce(UInt64(0)) { $0 + input($1)[position] } }
    }

    /// What the clients reported, what they sent, and what the script returned.
    struct Run<T: Sendable>: Sendable {
        var outcomes: [ParticipantIndex: Result<ParticipationReceipt, any Error>]
        var transcript: Transcript
        var script: T

        func receipt(_ index: ParticipantIndex) throws -> ParticipationReceipt {
            try #require(outcomes[index]).get()
        }

        /// The violation client `index` reported, if it left the round with one.
        func violation(_ index: ParticipantIndex) -> String? {
            guard case let .failure(error)? = outcomes[index],
                  case let .coordinatorViolation(reason)? = error as? SecAggClientError else { return nil }
            return reason
        }
    }

    /// Everything the clients sent to the coordinator, decoded.
    struct Transcript: Sendable {
        var messages: [ParticipantIndex: [ClientMessage]] = [:]

        func sent(by index: ParticipantIndex, type: UInt8) -> [ClientMessage] {
            (messages[index] ?? []).filter { $0.typeCode == type }
        }

        func revealed(by index: ParticipantIndex) -> [RevealedShare] {
            sent(by: index, type: 0x45).flatMap { message -> [RevealedShare] in
                if case let .unmaskResponse(response) = message { return response.shares }
                return []
            }
        }

        var allRevealed: [RevealedShare] { messages.keys.sorted().flatMap { revealed(by: $0) } }

        func abortCode(of index: ParticipantIndex) -> UInt16? {
            for case let .abort(abort) in messages[index] ?? [] { return abort.code }
            return nil
        }
    }

    /// Something that happened on one of the coordinator's connections.
    enum LinkEvent: Sendable {
        case joined(Ed25519.VerifyingKey, SecureSession)
        case message(Ed25519.VerifyingKey, [UInt8])
        case closed(Ed25519.VerifyingKey)
        /// A client's `participate` returned (posted by the test, not by a connection).
        case clientFinished(ParticipantIndex)
    }

    private enum TaskResult: Sendable {
        case listener
        case client(ParticipantIndex, Result<ParticipationReceipt, any Error>)
        case script(any Sendable, Transcript)
    }

    /// Starts a listener and five clients (configured with the enrollment authority's key when `authority`), and
    /// runs `script` as the coordinator once all five have joined.
    static func run<T: Sendable>(
        mode: RoundMode, authority: Bool = false, script: @escaping @Sendable (inout ScriptedRound) async throws -> T
    ) async throws -> Run<T> {
        let listener = try await SecureTransport.listen(host: "127.0.0.1", port: 0, limits: limits)
        let port = try #require(listener.channel.localAddress?.port)
        let (events, sink) = AsyncStream<LinkEvent>.makeStream()
        let enrolled = Set(clientKeys.values.map(\.verifyingKey))
        return try await withThrowingTaskGroup(of: TaskResult.self) { group in
            group.addTask {
                try? await listener.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await channel in inbound {
                            connections.addTask { await serve(channel, enrolled: enrolled, events: sink) }
                        }
                    }
                }
                return .listener
            }
            for (index, identity) in clientKeys {
                group.addTask {
                    let client = SecAggClient(
                        configuration: SecAggClientConfiguration(
                            host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey, identity: identity,
                            task: "scripted", policy: ClientPolicy(enrollmentAuthority: authority ? authorityKey.verifyingKey : nil),
                            limits: limits, admissionTimeout: .seconds(30)),
                        logger: Logger(label: "test.client") { _ in SwiftLogNoOpLogHandler() })
                    return .client(index, await outcomeOf { try await client.participate(input: input(index)) })
                }
            }
            group.addTask {
                var round = try ScriptedRound(mode: mode, authority: authority, events: events)
                try await round.waitForJoins()
                let result = try await script(&round)
                return .script(result, round.transcript)
            }
            var outcomes: [ParticipantIndex: Result<ParticipationReceipt, any Error>] = [:]
            var scripted: (T, Transcript)?
            while outcomes.count < clientKeys.count || scripted == nil, let next = try await group.next() {
                switch next {
                case .listener: break
                case let .client(index, outcome):
                    outcomes[index] = outcome
                    sink.yield(.clientFinished(index))
                case let .script(value, transcript): scripted = (try #require(value as? T), transcript)
                }
            }
            try await listener.channel.close()
            group.cancelAll()
            let (value, transcript) = try #require(scripted)
            return Run(outcomes: outcomes, transcript: transcript, script: value)
        }
    }

    /// One connection: handshake (enrolled identities only), accept the join, then forward every message.
    static func serve(_ channel: FrameChannel, enrolled: Set<Ed25519.VerifyingKey>, events: AsyncStream<LinkEvent>.Continuation) async {
        _ = try? await SecureTransport.serve(
            channel, identity: coordinatorKey, limits: limits, authorize: { enrolled.contains($0) ? nil : PeerRefusal(reason: "not enrolled") }
        ) { session, receiver in
            guard let join = try await receiver.receive(within: limits.handshakeTimeout) else { return }
            _ = try JoinRequest(decoding: join)
            try await session.send(JoinResponse(result: .accepted).encoded)
            events.yield(.joined(session.peer, session))
            defer { events.yield(.closed(session.peer)) }
            while let bytes = try await receiver.receive(within: limits.idleTimeout) {
                events.yield(.message(session.peer, bytes))
            }
        }
    }
}

/// The coordinator's side of a scripted round: the honest state machine, the client sessions, and the record of
/// what the clients sent. Client indices follow ``ScriptedCoordinator/clientKeys``, whatever the join order.
struct ScriptedRound {
    let parameters: RoundParameters
    var machine: CoordinatorStateMachine
    var transcript = ScriptedCoordinator.Transcript()
    /// Requests the honest machine produced for the phase the script stopped at (not sent), by recipient.
    var held: [ParticipantIndex: CoordinatorMessage] = [:]
    private var events: AsyncStream<ScriptedCoordinator.LinkEvent>.Iterator
    private var sessions: [ParticipantIndex: SecureSession] = [:]
    private var closed: Set<ParticipantIndex> = []
    private var finished: Set<ParticipantIndex> = []
    private var consumed: [ParticipantIndex: Int] = [:]
    private var sentShareKeysRequest: ShareKeysRequest?
    private let indexOf: [Ed25519.VerifyingKey: ParticipantIndex]
    private let now = ProtocolInstant(nanoseconds: 1)

    init(mode: RoundMode, authority: Bool, events: AsyncStream<ScriptedCoordinator.LinkEvent>) throws {
        var random = SystemRandom()
        parameters = RoundParameters(
            roundID: try #require(RoundID(bytes: random.bytes(16))), taskName: "scripted", dimension: 4, bits: 16,
            maximumInput: 1000, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: mode, invitedCount: 5,
            nonce: random.bytes(32))
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for (index, key) in ScriptedCoordinator.clientKeys {
            let endorsement = authority ? ScriptedCoordinator.authorityKey.signature(
                for: Derivation.endorsementMessage(identityKey: key.verifyingKey.rawRepresentation)).rawRepresentation : []
            roster[index] = RosterEntry(identity: key.verifyingKey, endorsement: endorsement)
        }
        machine = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(parameters: parameters, roster: roster))
        indexOf = Dictionary(uniqueKeysWithValues: ScriptedCoordinator.clientKeys.map { ($0.value.verifyingKey, $0.key) })
        self.events = events.makeAsyncIterator()
    }

    var everyone: [ParticipantIndex] { Array(1...parameters.invitedCount) }

    /// Waits until every client has joined; fails if one gave up first (so the test fails instead of hanging).
    mutating func waitForJoins() async throws {
        while sessions.count < everyone.count {
            if let quitter = finished.first(where: { sessions[$0] == nil }) {
                throw ScriptError(description: "client \(quitter) finished without joining")
            }
            try await pump()
        }
    }

    /// Takes one event off the connections.
    private mutating func pump() async throws {
        guard let event = await events.next() else { throw ScriptError(description: "the event stream ended") }
        switch event {
        case let .joined(peer, session): sessions[indexOf[peer]!] = session
        case let .message(peer, bytes):
            let index = indexOf[peer]!
            transcript.messages[index, default: []].append(try ClientMessage(decoding: bytes))
        case let .closed(peer): closed.insert(indexOf[peer]!)
        case let .clientFinished(index): finished.insert(index)
        }
    }

    /// Sends `message` to client `index` (a client that already left is skipped).
    mutating func send(_ message: CoordinatorMessage, to index: ParticipantIndex) async throws {
        if case let .shareKeysRequest(request) = message { sentShareKeysRequest = request }
        guard !closed.contains(index), let session = sessions[index] else { return }
        try? await session.send(message.encoded)
    }

    mutating func sendEveryone(_ message: CoordinatorMessage) async throws {
        for index in everyone { try await send(message, to: index) }
    }

    /// The next message of each client in `from` not yet handed out (clients that close without one are left out).
    mutating func answers(from: Set<ParticipantIndex>) async throws -> [ParticipantIndex: ClientMessage] {
        func pending(_ round: ScriptedRound, _ index: ParticipantIndex) -> Bool {
            (round.transcript.messages[index]?.count ?? 0) > (round.consumed[index] ?? 0)
        }
        while from.contains(where: { !pending(self, $0) && !closed.contains($0) }) { try await pump() }
        var answers: [ParticipantIndex: ClientMessage] = [:]
        for index in from where pending(self, index) {
            let position = consumed[index] ?? 0
            answers[index] = transcript.messages[index]![position]
            consumed[index] = position + 1
        }
        return answers
    }

    /// The consistency signatures the clients in `from` sent in answer to a ConsistencyCheckRequest.
    mutating func signatures(from: Set<ParticipantIndex>) async throws -> [ParticipantIndex: ConsistencySignature] {
        var signatures: [ParticipantIndex: ConsistencySignature] = [:]
        for (index, answer) in try await answers(from: from) {
            if case let .consistencyResponse(response) = answer {
                signatures[index] = ConsistencySignature(index: index, signature: response.signature)
            }
        }
        return signatures
    }

    /// The ShareKeysRequest this round sent (the last one; all carry the same count and root).
    func shareKeysRequestSent() throws -> ShareKeysRequest {
        try #require(sentShareKeysRequest)
    }

    /// The neighbour graph of this round's session, from the ShareKeysRequests sent or held.
    func graph() throws -> NeighborGraph {
        var request = sentShareKeysRequest
        if request == nil, case let .shareKeysRequest(held)? = held.values.first { request = held }
        let sent = try #require(request, "no ShareKeysRequest yet")
        let sessionID = Derivation.sessionID(
            roundDigest: Derivation.roundDigest(parameters), advertisedCount: sent.advertisedCount,
            advertisementRoot: sent.advertisementRoot)
        return try Derivation.neighbourGraph(parameters: parameters, sessionID: sessionID)
    }

    /// Client `index`'s view of the survivor set `survivors`, with a valid proof (what a coordinator claiming that
    /// set sends).
    func view(_ survivors: [ParticipantIndex], for index: ParticipantIndex) throws -> SurvivorView {
        SurvivorTree(graph: try graph(), survivors: Set(survivors)).view(for: index)
    }

    /// Runs the honest coordinator until it opens `stop` (whose requests are kept in ``held``, not sent), or to
    /// the end of the round.
    mutating func honest(until stop: RoundPhase? = nil) async throws {
        var actions = try machine.start(now: now)
        while true {
            let requests = actions.expandingRequests().compactMap { action -> (CoordinatorMessage, [ParticipantIndex])? in
                if case let .send(message, recipients) = action { return (message, recipients) }
                return nil
            }
            if let stop, machine.phase == stop, !machine.isFinished {
                held = [:]
                for (message, recipients) in requests {
                    for recipient in recipients { held[recipient] = message }
                }
                return
            }
            var awaited: Set<ParticipantIndex> = []
            for (message, recipients) in requests {
                for recipient in recipients { try await send(message, to: recipient) }
                if message.phase != nil { awaited.formUnion(recipients) }
            }
            if machine.isFinished { return }
            actions = []
            for (sender, answer) in try await answers(from: awaited).sorted(by: { $0.key < $1.key }) {
                // As the real driver does: a client whose message the machine refuses is dropped.
                do {
                    actions += try machine.handle(answer, from: sender, now: now)
                } catch {
                    actions += machine.participantDisconnected(sender, now: now)
                }
            }
            actions += machine.advance(now: now)
        }
    }

    /// Waits until every client has closed its connection, first telling those still waiting that the round
    /// aborted when `endingTheRound`.
    mutating func drain(endingTheRound: Bool = false) async throws {
        if endingTheRound {
            // Give clients that are about to leave on their own the chance to do so first.
            let outcome = CoordinatorMessage.roundOutcome(RoundOutcome(
                roundID: parameters.roundID, result: .aborted(code: AbortCode.coordinatorMisbehaved.rawValue, reason: "script ended")))
            _ = try await answers(from: Set(everyone))
            for index in everyone { try await send(outcome, to: index) }
        }
        while closed.count < everyone.count { try await pump() }
    }
}

/// The owners for which `shares` contain both a self-mask share and a masking-key share.
func ownersRevealedTwice(_ shares: [RevealedShare]) -> [ParticipantIndex] {
    var kinds: [ParticipantIndex: Set<ShareKind>] = [:]
    for share in shares { kinds[share.owner, default: []].insert(share.kind) }
    return kinds.filter { $0.value.count > 1 }.keys.sorted()
}

/// Why a scripted round could not go on (a harness failure, not a finding).
struct ScriptError: Error, CustomStringConvertible {
    let description: String
}

extension Array where Element == ConsistencySignature {
    var sortedByIndex: [ConsistencySignature] { sorted { $0.index < $1.index } }
}
