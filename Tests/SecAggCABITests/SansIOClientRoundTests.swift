import CSecAgg
import SecAggCABI
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggWire
import Testing

/// The sans-IO client of the C ABI (`secagg_client_*`), driven byte by byte against the coordinator state machine
/// in-process: it completes rounds, and the sum includes its inputs.
@Suite("C ABI sans-IO client")
struct SansIOClientRoundTests {
    /// A C client handle and what it contributes.
    struct CClient {
        var handle: OpaquePointer
        var identity: Ed25519.VerifyingKey
        var input: [UInt64]
    }

    static func makeClient(index: Int, dimension: Int) throws -> CClient {
        var identityHandle: OpaquePointer?
        try #require(secaggIdentityGenerate(&identityHandle) == SECAGG_OK)
        defer { secaggIdentityFree(identityHandle) }
        var key = [UInt8](repeating: 0, count: 32)
        try #require(secaggIdentityPublicKey(&key, key.count, identityHandle) == SECAGG_OK)
        let input = (0..<dimension).map { UInt64(index * 100 + $0) }
        var handle: OpaquePointer?
        try #require(secaggClientCreate(&handle, identityHandle, input, input.count, nil, nil) == SECAGG_OK)
        return CClient(handle: try #require(handle), identity: try Ed25519.VerifyingKey(rawRepresentation: key), input: input)
    }

    /// Every message the client queued, decoded.
    static func drain(_ client: CClient) throws -> [ClientMessage] {
        var messages: [ClientMessage] = []
        while true {
            var size = 0
            try #require(secaggClientNextMessageSize(&size, client.handle) == SECAGG_OK)
            if size == 0 { return messages }
            var buffer = [UInt8](repeating: 0, count: size)
            var length = 0
            try #require(secaggClientNextMessage(&buffer, buffer.count, &length, client.handle) == SECAGG_OK)
            messages.append(try ClientMessage(decoding: Array(buffer.prefix(length))))
        }
    }

    @Test("C clients complete a round and their inputs are in the sum", arguments: [RoundMode.honestButCurious, .active])
    func completesRound(mode: RoundMode) throws {
        let count = 5, dimension = 6
        let clients = try (1...count).map { try Self.makeClient(index: $0, dimension: dimension) }
        defer { for client in clients { secaggClientFree(client.handle) } }
        var random = SeededRandom(seed: 7, stream: "cabi-round")
        let parameters = RoundParameters(
            roundID: try #require(RoundID(bytes: random.bytes(16))), taskName: "cabi", dimension: UInt32(dimension),
            bits: 16, maximumInput: 1000, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: mode,
            invitedCount: UInt32(count), nonce: random.bytes(32))
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for (offset, client) in clients.enumerated() { roster[ParticipantIndex(offset + 1)] = RosterEntry(identity: client.identity) }
        var coordinator = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(parameters: parameters, roster: roster))
        let now = ProtocolInstant(nanoseconds: 0)

        var actions = try coordinator.start(now: now)
        var result: RoundResult?
        while result == nil, !actions.isEmpty {
            var next: [CoordinatorAction] = []
            for action in actions.expandingRequests() {
                switch action {
                case let .send(message, recipients):
                    for recipient in recipients {
                        let client = clients[Int(recipient) - 1]
                        let bytes = message.encoded
                        try #require(secaggClientHandle(client.handle, bytes, bytes.count) == SECAGG_OK)
                        var phase: Int32 = 0
                        #expect(secaggClientPhase(&phase, client.handle) == SECAGG_OK)
                        for reply in try Self.drain(client) {
                            next += try coordinator.handle(reply, from: recipient, now: now)
                        }
                    }
                case let .completed(round):
                    result = round
                case let .aborted(reason):
                    Issue.record("round aborted: \(reason)")
                    return
                default:
                    break
                }
            }
            if result == nil { next += coordinator.advance(now: now) }
            actions = next
        }
        let round = try #require(result)
        let expected = (0..<dimension).map { position in clients.reduce(UInt64(0)) { $0 + $1.input[position] } }
        #expect(round.sum.values == expected)
        for client in clients {
            var receipt = secagg_receipt()
            #expect(secaggClientReceipt(&receipt, client.handle) == SECAGG_OK)
            #expect(receipt.outcome == SECAGG_OUTCOME_COMPLETED && receipt.survivors == UInt32(count))
            #expect(receipt.has_round_id == 1 && receipt.has_participant == 1)
        }
    }

    @Test("a message for another round makes the C client leave with an abort for the coordinator")
    func wrongRound() throws {
        let client = try Self.makeClient(index: 1, dimension: 4)
        defer { secaggClientFree(client.handle) }
        var random = SeededRandom(seed: 9, stream: "cabi-wrong")
        let parameters = RoundParameters(
            roundID: try #require(RoundID(bytes: random.bytes(16))), taskName: "cabi", dimension: 4, bits: 16,
            maximumInput: 1000, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: .honestButCurious,
            invitedCount: 5, nonce: random.bytes(32))
        let invitation = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 1)).encoded
        #expect(secaggClientHandle(client.handle, invitation, invitation.count) == SECAGG_OK)
        #expect(try Self.drain(client).count == 1)
        let other = try #require(RoundID(bytes: random.bytes(16)))
        let outcome = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: other, result: .completed(survivorCount: 5))).encoded
        #expect(secaggClientHandle(client.handle, outcome, outcome.count) == SECAGG_E_PROTOCOL)
        let replies = try Self.drain(client)
        guard case let .abort(abort)? = replies.first else {
            Issue.record("expected an abort message, got \(replies)")
            return
        }
        #expect(abort.roundID == parameters.roundID && abort.code == AbortCode.coordinatorMisbehaved.rawValue)
        var receipt = secagg_receipt()
        #expect(secaggClientReceipt(&receipt, client.handle) == SECAGG_OK)
        #expect(receipt.outcome == SECAGG_OUTCOME_ABORTED && receipt.abort_code == 0x0204)
    }

    /// A C client that joins `task` itself (its first queued message is the JoinRequest).
    static func makeJoiningClient(policy: secagg_client_policy? = nil) throws -> OpaquePointer {
        var identityHandle: OpaquePointer?
        try #require(secaggIdentityGenerate(&identityHandle) == SECAGG_OK)
        defer { secaggIdentityFree(identityHandle) }
        var handle: OpaquePointer?
        let input: [UInt64] = [1, 2, 3, 4]
        if var policy {
            try #require(secaggClientCreate(&handle, identityHandle, input, input.count, &policy, "sum") == SECAGG_OK)
        } else {
            try #require(secaggClientCreate(&handle, identityHandle, input, input.count, nil, "sum") == SECAGG_OK)
        }
        return try #require(handle)
    }

    // Proves every refusal the coordinator can send (SPEC §4.9) comes out of secagg_client_handle as its own result
    // code — including one sent unasked before the client's join was answered — with the refusal code in the receipt.
    @Test("each join refusal has its own C result code and is in the receipt", arguments: JoinResponse.Refusal.allCases)
    func refusalCodes(refusal: JoinResponse.Refusal) throws {
        let expected: [JoinResponse.Refusal: Int32] = [
            .notEnrolled: SECAGG_E_NOT_ENROLLED, .notEndorsed: SECAGG_E_NOT_ENROLLED, .revoked: SECAGG_E_REVOKED,
            .unknownTask: SECAGG_E_UNKNOWN_TASK, .queueFull: SECAGG_E_QUEUE_FULL, .shuttingDown: SECAGG_E_SHUTTING_DOWN,
            .alreadyJoined: SECAGG_E_ALREADY_JOINED,
        ]
        let client = try Self.makeJoiningClient()
        defer { secaggClientFree(client) }
        var size = 0
        #expect(secaggClientNextMessageSize(&size, client) == SECAGG_OK && size > 0, "the JoinRequest is queued")
        let answer = JoinResponse(result: .refused(refusal, reason: "because")).encoded
        #expect(secaggClientHandle(client, answer, answer.count) == expected[refusal])
        var receipt = secagg_receipt()
        #expect(secaggClientReceipt(&receipt, client) == SECAGG_OK)
        #expect(receipt.outcome == SECAGG_OUTCOME_ABORTED && receipt.abort_code == refusal.rawValue)
        #expect(secaggClientHandle(client, answer, answer.count) == SECAGG_E_STATE)
        #expect(String(cString: secaggStrerror(expected[refusal]!)) != String(cString: secaggStrerror(999)))
    }

    // Proves the policy's local noise floor reaches the state machine through the C structure: a client with a floor
    // refuses (aborts) a round without distributed noise, the default client accepts it; an unusable floor is an
    // invalid argument.
    @Test("the C policy's min_local_noise_variance is enforced; NaN, negative and huge floors are refused")
    func localNoiseFloor() throws {
        var policy = secagg_client_policy()
        #expect(secaggClientPolicyDefault(&policy) == SECAGG_OK)
        #expect(policy.min_threshold == 2 && policy.min_survivors == 3 && policy.min_local_noise_variance == 0)
        var random = SeededRandom(seed: 11, stream: "cabi-floor")
        let parameters = RoundParameters(
            roundID: try #require(RoundID(bytes: random.bytes(16))), taskName: "sum", dimension: 4, bits: 16,
            maximumInput: 1000, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: .honestButCurious,
            invitedCount: 5, nonce: random.bytes(32))
        let invitation = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 1)).encoded
        let accepted = JoinResponse(result: .accepted).encoded
        for floor in [0.0, 2.5] {
            policy.min_local_noise_variance = floor
            let client = try Self.makeJoiningClient(policy: policy)
            defer { secaggClientFree(client) }
            #expect(secaggClientHandle(client, accepted, accepted.count) == SECAGG_OK)
            #expect(secaggClientHandle(client, invitation, invitation.count) == SECAGG_OK)
            var receipt = secagg_receipt()
            let finished = secaggClientReceipt(&receipt, client) == SECAGG_OK
            #expect(finished == (floor > 0), "floor \(floor)")
            if finished { #expect(receipt.abort_code == AbortCode.parametersRejected.rawValue) }
        }
        var identity: OpaquePointer?
        try #require(secaggIdentityGenerate(&identity) == SECAGG_OK)
        defer { secaggIdentityFree(identity) }
        for bad in [Double.nan, -1, 1e300] {
            policy.min_local_noise_variance = bad
            var handle: OpaquePointer?
            #expect(secaggClientCreate(&handle, identity, [1], 1, &policy, "sum") == SECAGG_E_INVALID_ARGUMENT, "\(bad)")
            #expect(handle == nil)
        }
    }
}
