import Testing
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// A whole round in memory: seeded identities and inputs, a real coordinator and real clients, and queues between
/// them. Every message crosses its canonical encoding on the way (encode, then decode). The test drives it one
/// step at a time and can look at, drop, replace or add messages at any point.
///
/// Two fixtures built with the same arguments run byte-identical rounds (all randomness is `SeededRandom`), so a
/// test can compare a disturbed round against an undisturbed reference.
package struct RoundFixture {
    package let parameters: RoundParameters
    package let identities: [ParticipantIndex: Ed25519.SigningKey]
    package let inputs: [ParticipantIndex: [UInt64]]
    /// The enrollment authority, when the fixture endorses identities.
    package let authority: Ed25519.SigningKey?
    package var coordinator: CoordinatorStateMachine
    package var clients: [ParticipantIndex: ClientStateMachine]
    package var randoms: [ParticipantIndex: SeededRandom]
    package var now = ProtocolInstant(nanoseconds: 1_000)

    /// Coordinator messages not yet delivered, per client, in order.
    package var toClients: [ParticipantIndex: [CoordinatorMessage]] = [:]
    /// Client messages not yet delivered to the coordinator, in order.
    package var toCoordinator: [(sender: ParticipantIndex, message: ClientMessage)] = []
    /// Every action the coordinator returned.
    package var coordinatorActions: [CoordinatorAction] = []
    /// Every coordinator message each client accepted (handled without throwing).
    package var received: [ParticipantIndex: [CoordinatorMessage]] = [:]
    /// Every message each client sent.
    package var sent: [ParticipantIndex: [ClientMessage]] = [:]
    /// Clients that are gone: nothing is delivered to them and nothing of theirs reaches the coordinator.
    package var offline: Set<ParticipantIndex> = []
    package private(set) var started = false

    /// - Parameters: as in ``RoundParameters``; `minimumSurvivors` defaults to threshold + 1 (the smallest valid),
    ///   `maximumInput` to the largest that cannot overflow.
    package init(
        clients count: UInt32 = 5, threshold: UInt32 = 3, minimumSurvivors: UInt32? = nil,
        mode: RoundMode = .honestButCurious, graph: GraphShape = .complete, dimension: UInt32 = 6, bits: UInt8 = 16,
        maximumInput: UInt64? = nil, seed: UInt64 = 1, endorsed: Bool = false, unmaskingWorkers: Int = 3
    ) throws {
        var roundRandom = SeededRandom(seed: seed, stream: "round")
        let roundID = try #require(RoundID(bytes: roundRandom.bytes(16)))
        let limit: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        let maximum = maximumInput ?? limit / UInt64(count)
        parameters = RoundParameters(
            roundID: roundID, taskName: "fixture", dimension: dimension, bits: bits, maximumInput: maximum,
            graph: graph, threshold: threshold, minimumSurvivors: minimumSurvivors ?? threshold + 1, mode: mode,
            invitedCount: count, nonce: roundRandom.bytes(32))
        var authorityRandom = SeededRandom(seed: seed, stream: "authority")
        authority = endorsed ? Ed25519.SigningKey(using: &authorityRandom) : nil

        var identities: [ParticipantIndex: Ed25519.SigningKey] = [:]
        var inputs: [ParticipantIndex: [UInt64]] = [:]
        var roster: [ParticipantIndex: RosterEntry] = [:]
        var clients: [ParticipantIndex: ClientStateMachine] = [:]
        var randoms: [ParticipantIndex: SeededRandom] = [:]
        for index in 1...count {
            var random = SeededRandom(seed: seed, stream: "identity-\(index)")
            let identity = Ed25519.SigningKey(using: &random)
            identities[index] = identity
            var inputRandom = SeededRandom(seed: seed, stream: "input-\(index)")
            let input = (0..<Int(dimension)).map { _ in
                maximum == .max ? inputRandom.nextUInt64() : inputRandom.nextUInt64() % (maximum + 1)
            }
            inputs[index] = input
            let endorsement = authority.map {
                $0.signature(for: Derivation.endorsementMessage(identityKey: identity.verifyingKey.rawRepresentation))
                    .rawRepresentation
            } ?? []
            roster[index] = RosterEntry(identity: identity.verifyingKey, endorsement: endorsement)
            clients[index] = ClientStateMachine(
                configuration: ClientConfiguration(identity: identity, policy: ClientPolicy(enrollmentAuthority: authority?.verifyingKey)),
                input: input)
            randoms[index] = SeededRandom(seed: seed, stream: "client-\(index)")
        }
        self.identities = identities
        self.inputs = inputs
        self.clients = clients
        self.randoms = randoms
        // Three unmasking workers by default, so every fixture round also runs the parallel unmasking path.
        coordinator = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
            parameters: parameters, roster: roster, unmaskingWorkers: unmaskingWorkers))
    }

    package var indices: [ParticipantIndex] { Array(1...parameters.invitedCount) }

    // MARK: Driving

    /// Opens the round: invitations are queued for every client.
    package mutating func start() throws {
        started = true
        try route(coordinator.start(now: now))
    }

    /// Records coordinator actions and queues the messages they send (through their encoding).
    package mutating func route(_ actions: [CoordinatorAction]) throws {
        let actions = actions.expandingRequests()
        coordinatorActions += actions
        for action in actions {
            guard case let .send(message, recipients) = action else { continue }
            let decoded = try CoordinatorMessage(decoding: message.encoded)
            #expect(decoded == message)
            for recipient in recipients where !offline.contains(recipient) {
                toClients[recipient, default: []].append(decoded)
            }
        }
    }

    /// Hands one message to client `index`, in place. On success the message is recorded and the replies are queued
    /// for the coordinator; on a throw only the client's random source is restored (the machine itself is not
    /// touched by the fixture, so a machine that changed state before throwing stays changed).
    @discardableResult
    package mutating func deliver(_ message: CoordinatorMessage, to index: ParticipantIndex) throws -> [ClientAction] {
        let savedRandom = randoms[index]!
        let actions: [ClientAction]
        do {
            actions = try clients[index]!.handle(message, using: &randoms[index]!)
        } catch {
            randoms[index] = savedRandom
            throw error
        }
        received[index, default: []].append(message)
        for action in actions {
            guard case let .send(reply) = action else { continue }
            let decoded = try ClientMessage(decoding: reply.encoded)
            #expect(decoded == reply)
            sent[index, default: []].append(decoded)
            toCoordinator.append((index, decoded))
        }
        return actions
    }

    /// Delivers every queued coordinator message (clients in index order). A client error propagates.
    package mutating func deliverToClients(only: Set<ParticipantIndex>? = nil) throws {
        for index in toClients.keys.sorted() where only?.contains(index) ?? true {
            let messages = toClients.removeValue(forKey: index) ?? []
            for message in messages where !offline.contains(index) {
                try deliver(message, to: index)
            }
        }
    }

    /// Hands one client message to the coordinator and routes what it returns.
    package mutating func coordinatorHandle(_ message: ClientMessage, from sender: ParticipantIndex) throws {
        try route(coordinator.handle(message, from: sender, now: now))
    }

    /// Delivers every queued client message to the coordinator, in order. A coordinator error propagates.
    package mutating func deliverToCoordinator() throws {
        let queue = toCoordinator
        toCoordinator = []
        for (sender, message) in queue where !offline.contains(sender) {
            try coordinatorHandle(message, from: sender)
        }
    }

    /// Closes the coordinator's open phase.
    package mutating func advance() throws {
        try route(coordinator.advance(now: now))
    }

    /// One full phase: clients answer, the coordinator takes the answers and closes the phase.
    package mutating func step() throws {
        try deliverToClients()
        try deliverToCoordinator()
        try advance()
    }

    /// Runs until the coordinator has opened `phase` and its requests wait in `toClients`.
    package mutating func run(to phase: RoundPhase) throws {
        if !started { try start() }
        while coordinator.phase != phase {
            try #require(!coordinator.isFinished, "the round ended before \(phase)")
            try step()
        }
    }

    /// Runs the round to its end and delivers the outcome to the clients.
    @discardableResult
    package mutating func finish() throws -> RoundResult? {
        if !started { try start() }
        while !coordinator.isFinished { try step() }
        try deliverToClients()
        return coordinator.result
    }

    /// The driver gives up on `index`: it goes offline and the coordinator is told.
    package mutating func disconnect(_ index: ParticipantIndex) throws {
        offline.insert(index)
        toClients[index] = nil
        toCoordinator.removeAll { $0.sender == index }
        try route(coordinator.participantDisconnected(index, now: now))
    }

    // MARK: Observations

    /// Σ inputs over `survivors` (the parameters rule out wrap-around).
    package func expectedSum(of survivors: [ParticipantIndex]) -> [UInt64] {
        var sum = [UInt64](repeating: 0, count: Int(parameters.dimension))
        for survivor in survivors {
            for (position, value) in inputs[survivor]!.enumerated() { sum[position] += value }
        }
        return sum
    }

    /// Checks that the round completed with exactly the inputs of `survivors` summed.
    package func expectExactSum(survivors: [ParticipantIndex], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let result = coordinator.result else {
            Issue.record("round did not complete: \(String(describing: coordinator.abortReason))", sourceLocation: sourceLocation)
            return
        }
        #expect(result.survivors == survivors, sourceLocation: sourceLocation)
        #expect(result.sum.values == expectedSum(of: survivors), sourceLocation: sourceLocation)
    }

    /// The messages of the given type a client sent.
    package func sent(by index: ParticipantIndex, type: UInt8) -> [ClientMessage] {
        (sent[index] ?? []).filter { $0.typeCode == type }
    }

    /// The first message of the given type that client `index` accepted.
    package func received(by index: ParticipantIndex, type: UInt8) -> CoordinatorMessage? {
        (received[index] ?? []).first { $0.typeCode == type }
    }

    /// A ShareKeysRequest some client accepted (each client gets its own neighbourhood; all carry the same count
    /// and root).
    package func shareKeysRequest() throws -> ShareKeysRequest {
        for index in indices {
            if case let .shareKeysRequest(request)? = received(by: index, type: 0x02) { return request }
        }
        throw FixtureError("no client has accepted a ShareKeysRequest yet")
    }

    /// The ShareKeysRequest client `index` accepted.
    package func shareKeysRequest(of index: ParticipantIndex) throws -> ShareKeysRequest {
        if case let .shareKeysRequest(request)? = received(by: index, type: 0x02) { return request }
        throw FixtureError("client \(index) has not accepted a ShareKeysRequest")
    }

    /// The session id every party derives once U1 is known.
    package func sessionID() throws -> [UInt8] {
        let request = try shareKeysRequest()
        return Derivation.sessionID(
            roundDigest: Derivation.roundDigest(parameters), advertisedCount: request.advertisedCount,
            advertisementRoot: request.advertisementRoot)
    }

    /// The neighbour graph of the session, derived the way every party derives it.
    package func graph() throws -> NeighborGraph {
        try Derivation.neighbourGraph(parameters: parameters, sessionID: try sessionID())
    }

    /// A survivor view of `survivors` for `recipient`, with a valid proof: what a coordinator that claims this set
    /// would send (an honest one sends the true U3; a lying one any set it likes).
    package func survivorView(for recipient: ParticipantIndex, survivors: [ParticipantIndex]) throws -> SurvivorView {
        SurvivorTree(graph: try graph(), survivors: Set(survivors)).view(for: recipient)
    }

    /// Client `signer`'s consistency signature over the survivor set `survivors`, as an honest client shown that
    /// set would make it.
    package func consistencySignature(by signer: ParticipantIndex, over survivors: [ParticipantIndex]) throws -> ConsistencySignature {
        let tree = SurvivorTree(graph: try graph(), survivors: Set(survivors))
        let message = Derivation.consistencyMessage(
            sessionID: try sessionID(), survivorCount: tree.survivorCount, survivorRoot: tree.root)
        return ConsistencySignature(index: signer, signature: identities[signer]!.signature(for: message).rawRepresentation)
    }

    /// Every share client `index` revealed, over all its UnmaskResponses.
    package func revealed(by index: ParticipantIndex) -> [RevealedShare] {
        sent(by: index, type: 0x45).flatMap { message -> [RevealedShare] in
            if case let .unmaskResponse(response) = message { return response.shares }
            return []
        }
    }
}

package struct FixtureError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

// MARK: Message surgery

extension ClientMessage {
    /// The same message claiming another round.
    package func withRoundID(_ roundID: RoundID) -> ClientMessage {
        switch self {
        case var .advertiseKeys(body): body.roundID = roundID; return .advertiseKeys(body)
        case var .shareKeys(body): body.roundID = roundID; return .shareKeys(body)
        case var .maskedInput(body): body.roundID = roundID; return .maskedInput(body)
        case var .consistencyResponse(body): body.roundID = roundID; return .consistencyResponse(body)
        case var .unmaskResponse(body): body.roundID = roundID; return .unmaskResponse(body)
        case var .abort(body): body.roundID = roundID; return .abort(body)
        }
    }
}

extension CoordinatorMessage {
    /// The same message claiming another round.
    package func withRoundID(_ roundID: RoundID) -> CoordinatorMessage {
        switch self {
        case var .advertiseKeysRequest(body): body.parameters.roundID = roundID; return .advertiseKeysRequest(body)
        case var .shareKeysRequest(body): body.roundID = roundID; return .shareKeysRequest(body)
        case var .maskedInputRequest(body): body.roundID = roundID; return .maskedInputRequest(body)
        case var .consistencyCheckRequest(body): body.roundID = roundID; return .consistencyCheckRequest(body)
        case var .unmaskRequest(body): body.roundID = roundID; return .unmaskRequest(body)
        case var .roundOutcome(body): body.roundID = roundID; return .roundOutcome(body)
        }
    }
}

/// A round id no fixture uses.
package let foreignRoundID = RoundID(bytes: [UInt8](repeating: 0xee, count: 16))!

/// Flips the lowest bit of byte `position`.
package func flipped(_ bytes: [UInt8], at position: Int = 0) -> [UInt8] {
    var copy = bytes
    copy[position] ^= 1
    return copy
}

// MARK: Error shapes

/// The violation inside a coordinator rejection from `sender`, or nil if the error is something else.
package func violation(_ error: any Error, from sender: ParticipantIndex) -> ProtocolViolation? {
    guard case let CoordinatorError.participantViolation(index, violation)? = error as? CoordinatorError, index == sender else {
        return nil
    }
    return violation
}

/// The violation inside a client's rejection of the coordinator, or nil.
package func coordinatorViolation(_ error: any Error) -> ProtocolViolation? {
    guard case let ClientError.coordinatorViolation(violation)? = error as? ClientError else { return nil }
    return violation
}

/// Runs `body` and returns what it threw (nil if it returned).
package func thrownError(_ body: () throws -> Void) -> (any Error)? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

extension ProtocolViolation {
    package var isUnexpectedMessage: Bool { if case .unexpectedMessage = self { return true } else { return false } }
    package var isInconsistentView: Bool { if case .inconsistentView = self { return true } else { return false } }
    package var isInvalidVector: Bool { if case .invalidVector = self { return true } else { return false } }

    package func isBadSignature(signer: ParticipantIndex, what: String) -> Bool {
        if case let .badSignature(actualSigner, actualWhat) = self { return actualSigner == signer && actualWhat == what }
        return false
    }

    package func isInvalidShare(owner: ParticipantIndex, holder: ParticipantIndex) -> Bool {
        if case let .invalidShare(actualOwner, actualHolder, _) = self { return actualOwner == owner && actualHolder == holder }
        return false
    }

    package func isInvalidKey(owner: ParticipantIndex) -> Bool {
        if case let .invalidKey(actualOwner, _) = self { return actualOwner == owner }
        return false
    }
}

/// Which kinds of share of each owner appear among `shares`.
package func kindsByOwner(_ shares: [RevealedShare]) -> [ParticipantIndex: Set<ShareKind>] {
    var kinds: [ParticipantIndex: Set<ShareKind>] = [:]
    for share in shares { kinds[share.owner, default: []].insert(share.kind) }
    return kinds
}

/// The owners for which `shares` contain both a self-mask share and a masking-key share.
package func ownersRevealedTwice(_ shares: [RevealedShare]) -> [ParticipantIndex] {
    kindsByOwner(shares).filter { $0.value.count > 1 }.keys.sorted()
}

/// The low-order points of Curve25519 (and non-canonical encodings of them), on which X25519 yields zero.
package let lowOrderX25519Keys: [[UInt8]] = [
    [UInt8](repeating: 0, count: 32),
    [1] + [UInt8](repeating: 0, count: 31),
    hexBytes("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    hexBytes("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    hexBytes("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hexBytes("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    hexBytes("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]

package func hexBytes(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}
