import SecAggCrypto
import SecAggMath
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// Full deterministic round transcripts (SPEC "Test vectors"): every random draw explicit, every message's bytes,
/// every intermediate value, the survivor sets and the released sum.
enum TranscriptVectors {
    /// One transcript's explicit inputs, as the generator chooses them.
    struct Plan: Sendable {
        var file: String
        var description: String
        var graph: GraphShape
        var mode: RoundMode
        var clients: UInt32
        var threshold: UInt32
        var minimumSurvivors: UInt32
        var dimension: UInt32
        var bits: UInt8
        var maximumInput: UInt64
        var noise: NoiseParameters = .none
        var endorsed = false
        /// Client index → the phase from which it stays silent (it receives but never answers).
        var silentFrom: [UInt32: RoundPhase] = [:]
        /// Client index → the owner whose share it reveals corrupted (one bit flipped) in Unmasking.
        var corruptsShareOf: [UInt32: UInt32] = [:]
    }

    static let plans: [Plan] = [
        Plan(file: "transcript_complete_hbc.json",
             description: "Complete graph, honest-but-curious, 5 clients, no dropouts, bits 16.",
             graph: .complete, mode: .honestButCurious, clients: 5, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 16, maximumInput: 1000),
        Plan(file: "transcript_complete_hbc_dropouts.json",
             description: "Complete graph, honest-but-curious, 7 clients: client 2 silent from ShareKeys, client 5 silent "
                + "from MaskedInputCollection (its pairwise masks are removed through its reconstructed masking key), "
                + "client 7 silent from Unmasking (its input is in the sum).",
             graph: .complete, mode: .honestButCurious, clients: 7, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 32, maximumInput: 100_000, silentFrom: [2: .shareKeys, 5: .maskedInputCollection, 7: .unmasking]),
        Plan(file: "transcript_harary_even_hbc_dropouts.json",
             description: "Harary graph of degree 4 over 8 clients, honest-but-curious: client 3 never advertises "
                + "(an absent leaf of the advertisement tree; it stays a node of the graph over the 8 invited indices, so "
                + "its neighbours deal to one holder fewer), client 6 silent from MaskedInputCollection. t = 2: with t = 3 a "
                + "survivor adjacent to both 3 and 6 would keep only 2 holders of its self-mask seed.",
             graph: .harary(degree: 4), mode: .honestButCurious, clients: 8, threshold: 2, minimumSurvivors: 4,
             dimension: 12, bits: 24, maximumInput: 4095, silentFrom: [3: .advertiseKeys, 6: .maskedInputCollection]),
        Plan(file: "transcript_harary_odd_active.json",
             description: "Harary graph of odd degree 5 over 9 clients (ring position 0 has 6 neighbours), active mode "
                + "with endorsed identities and the consistency check: client 4 silent from ConsistencyCheck (its input "
                + "is in the sum, it is not asked to unmask).",
             graph: .harary(degree: 5), mode: .active, clients: 9, threshold: 4, minimumSurvivors: 5,
             dimension: 8, bits: 16, maximumInput: 255, endorsed: true, silentFrom: [4: .consistencyCheck]),
        Plan(file: "transcript_harary_active_consistency_abort.json",
             description: "Harary graph of degree 3 over 7 clients, active mode with t = 3: client 4 is silent from "
                + "ConsistencyCheck, so its neighbours 5 and 7 see only 2 < t signatures from their own neighbours and "
                + "leave with 0x0205 instead of revealing (its neighbour 2, at ring position 0 with 4 neighbours, sees 3 and "
                + "reveals); too few shares remain and the coordinator aborts with 0x0201.",
             graph: .harary(degree: 3), mode: .active, clients: 7, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 16, maximumInput: 255, endorsed: true, silentFrom: [4: .consistencyCheck]),
        Plan(file: "transcript_complete_active_dropouts.json",
             description: "Complete graph, active mode, 6 clients: client 1 silent from MaskedInputCollection, "
                + "client 6 silent from Unmasking; bits 64.",
             graph: .complete, mode: .active, clients: 6, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 64, maximumInput: UInt64(1) << 40, silentFrom: [1: .maskedInputCollection, 6: .unmasking]),
        Plan(file: "transcript_aborted_too_few_masked.json",
             description: "Complete graph, honest-but-curious, 5 clients: clients 2 and 4 silent from "
                + "MaskedInputCollection, so only 3 < 4 masked inputs arrive and the round aborts with 0x0103.",
             graph: .complete, mode: .honestButCurious, clients: 5, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 16, maximumInput: 1000, silentFrom: [2: .maskedInputCollection, 4: .maskedInputCollection]),
        Plan(file: "transcript_central_noise.json",
             description: "Complete graph, honest-but-curious, 5 clients, central discrete Gaussian noise of variance "
                + "9/2: the coordinator adds the listed samples to the reconstructed sum before releasing it.",
             graph: .complete, mode: .honestButCurious, clients: 5, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 32, maximumInput: 1000,
             noise: .central(variance: NoiseVariance(numerator: 9, denominator: 2))),
        Plan(file: "transcript_distributed_noise.json",
             description: "Harary graph of degree 4 over 6 clients, honest-but-curious, distributed discrete Gaussian "
                + "noise of variance 2 per client: the samples each client adds are listed, with the random bytes the "
                + "exact sampler consumed to draw them.",
             graph: .harary(degree: 4), mode: .honestButCurious, clients: 6, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 32, maximumInput: 1000,
             noise: .distributed(localVariance: NoiseVariance(numerator: 2, denominator: 1)),
             silentFrom: [2: .unmasking]),
        Plan(file: "transcript_harary_pruned.json",
             description: "Harary graph of degree 3 over 8 clients, honest-but-curious, t = 2: clients 1 and 3 are silent "
                + "from ShareKeys, which leaves their common neighbours 4 and 5 with fewer than t sharing neighbours; "
                + "the coordinator prunes them from U2 (SPEC 8.3) and the round completes without them.",
             graph: .harary(degree: 3), mode: .honestButCurious, clients: 8, threshold: 2, minimumSurvivors: 3,
             dimension: 8, bits: 16, maximumInput: 1000, silentFrom: [1: .shareKeys, 3: .shareKeys]),
        Plan(file: "transcript_harary_n64_k6_hbc_dropouts.json",
             description: "Harary graph of degree 6 over 64 invited clients (k much smaller than n), honest-but-curious, "
                + "t = 3: each ShareKeysRequest holds only the recipient's own and its neighbours' advertisements with one "
                + "multiproof against the U1 root, and each survivor view only the recipient's and its neighbours' statuses. "
                + "Clients 9 and 41 never advertise (absent leaves of the advertisement tree; they stay nodes of the graph, "
                + "so their neighbours deal to one holder fewer), client 23 is silent from ShareKeys, client 50 from "
                + "MaskedInputCollection (its masking key is rebuilt) and client 61 from Unmasking (its input is in the sum).",
             graph: .harary(degree: 6), mode: .honestButCurious, clients: 64, threshold: 3, minimumSurvivors: 48,
             dimension: 4, bits: 16, maximumInput: 1000,
             silentFrom: [9: .advertiseKeys, 41: .advertiseKeys, 23: .shareKeys, 50: .maskedInputCollection, 61: .unmasking]),
        Plan(file: "transcript_complete_robust_reconstruction.json",
             description: "Complete graph, honest-but-curious, 6 clients: client 2 reveals a corrupted share of client "
                + "5's self-mask seed; the coordinator's reconstruction rejects candidates that fail the commitment "
                + "check, completes with the others, and reports client 2 as holding an inconsistent share.",
             graph: .complete, mode: .honestButCurious, clients: 6, threshold: 3, minimumSurvivors: 4,
             dimension: 8, bits: 16, maximumInput: 1000, corruptsShareOf: [2: 5]),
    ]

    static let files: [VectorFileKind] = plans.map { plan in
        VectorFileKind(
            name: plan.file,
            description: "Round transcript (SPEC \"Test vectors\"): " + plan.description,
            inputs: { () throws(VectorError) -> [JSONValue] in [try inputs(of: plan)] },
            compute: { (input: JSONValue) throws(VectorError) -> JSONValue in try compute(input) })
    }

    /// The input-only case of a plan: parameters, identities, inputs, silences and every random draw.
    static func inputs(of plan: Plan) throws(VectorError) -> JSONValue {
        var material = Material("transcript/" + plan.file)
        guard let roundID = RoundID(bytes: material.bytes(16)) else { throw .disagreement("round id") }
        let parameters = RoundParameters(
            roundID: roundID, taskName: "vectors", dimension: plan.dimension, bits: plan.bits,
            maximumInput: plan.maximumInput, graph: plan.graph, threshold: plan.threshold,
            minimumSurvivors: plan.minimumSurvivors, mode: plan.mode, invitedCount: plan.clients,
            nonce: material.bytes(32), noise: plan.noise)
        var clients: [JSONValue] = []
        for index in 1...plan.clients {
            let input = (0..<plan.dimension).map { _ in material.uniform(below: min(plan.maximumInput, 1 << 32 - 1) + 1) }
            func coefficients() -> JSONValue {
                .array((0..<5).map { _ in .uints((1..<plan.threshold).map { _ in material.fieldElement() }) })
            }
            var draws: [String: JSONValue] = [
                "encryption_private_key": .hex(material.bytes(32)), "masking_private_key": .hex(material.bytes(32)),
                "self_mask_seed": .hex(material.bytes(32)),
            ]
            draws["self_mask_coefficients"] = coefficients()
            draws["masking_key_coefficients"] = coefficients()
            var client: [String: JSONValue] = [
                "index": .uint(index), "identity_seed": .hex(material.bytes(32)), "input": .uints(input), "draws": .object(draws),
            ]
            client["silent_from"] = plan.silentFrom[index].map { .string($0.description) } ?? .null
            if let owner = plan.corruptsShareOf[index] { client["corrupts_revealed_share_of"] = .uint(owner) }
            clients.append(.object(client))
        }
        var fields: [String: JSONValue] = [
            "name": .string(String(plan.file.dropLast(5))), "round_parameters": .hex(parameters.encoded),
            "clients": .array(clients),
        ]
        fields["enrollment_authority_seed"] = plan.endorsed ? .hex(material.bytes(32)) : .null
        if case .central = plan.noise {
            // More than the sampler needs; the computed case keeps exactly the bytes it consumed.
            fields["coordinator_draws"] = .object(["noise_random_bytes": .hex(material.bytes(4096))])
        }
        return .object(fields)
    }

    // MARK: Running a transcript

    /// A parsed client of a transcript.
    struct Client {
        var index: UInt32
        var identity: Ed25519.SigningKey
        var input: [UInt64]
        var silentFrom: RoundPhase?
        var corruptsShareOf: UInt32?
        var draws: JSONValue
    }

    /// A parsed transcript input.
    struct Scenario {
        var parameters: RoundParameters
        var authority: Ed25519.SigningKey?
        var clients: [Client]
        /// Central noise: the bytes the coordinator's sampler consumes, and the samples they give.
        var coordinatorNoiseTape: [UInt8] = []
        var coordinatorNoise: [Int64] = []
    }

    static func scenario(from input: JSONValue) throws(VectorError) -> Scenario {
        let parameters: RoundParameters
        do { parameters = try RoundParameters(decoding: try input.bytes("round_parameters")) } catch let error as VectorError {
            throw error
        } catch { throw .badField("round_parameters", "does not decode: \(error)") }
        var authority: Ed25519.SigningKey?
        if let seed = input.optionalMember("enrollment_authority_seed"), seed != .null {
            authority = try Spec.ed25519(try input.bytes("enrollment_authority_seed"), field: "enrollment_authority_seed")
        }
        var clients: [Client] = []
        for entry in try input.array("clients") {
            var silent: RoundPhase?
            if case let .string(name)? = entry.optionalMember("silent_from") {
                guard let phase = RoundPhase.allCases.first(where: { $0.description == name }) else {
                    throw .badField("silent_from", "unknown phase \(name)")
                }
                silent = phase
            }
            clients.append(Client(
                index: try entry.uint32("index"), identity: try Spec.ed25519(try entry.bytes("identity_seed"), field: "identity_seed"),
                input: try entry.uint64s("input"), silentFrom: silent,
                corruptsShareOf: (entry.optionalMember("corrupts_revealed_share_of") ?? .null) == .null
                    ? nil : try entry.uint32("corrupts_revealed_share_of"),
                draws: try entry.member("draws")))
        }
        var scenario = Scenario(parameters: parameters, authority: authority, clients: clients)
        if case let .central(variance) = parameters.noise {
            let tape = try input.member("coordinator_draws").bytes("noise_random_bytes")
            let gaussian: DiscreteGaussian
            do { gaussian = try DiscreteGaussian(sigmaSquared: try Rational(variance.numerator, variance.denominator)) } catch {
                throw .badField("round_parameters", "unusable noise variance")
            }
            var random = TapeRandom(tape)
            scenario.coordinatorNoise = gaussian.samples(count: Int(parameters.dimension), using: &random)
            guard !random.overrun else { throw .draws("coordinator noise: the explicit draws are too short") }
            scenario.coordinatorNoiseTape = Array(tape.prefix(random.position))
        }
        return scenario
    }

    /// A replacement for one delivery, for negative vectors: the first message of `type` to `recipient`
    /// (0 = the coordinator) from `sender` (0 = the coordinator) is replaced by `bytes`, and the run stops there.
    struct Tamper {
        var recipient: UInt32
        var sender: UInt32
        var type: String
        var bytes: [UInt8]
    }

    /// What a tampered delivery led to.
    enum TamperOutcome: Equatable {
        case rejected(String)
        case accepted([String])
    }

    /// Everything observable in one run.
    struct Run {
        var messages: [JSONValue] = []
        var sent: [UInt32: [String: ClientMessage]] = [:]
        var received: [UInt32: [String: CoordinatorMessage]] = [:]
        /// Every participant the coordinator sent a message of each type to (silent ones included).
        var recipients: [String: Set<UInt32>] = [:]
        /// Every coordinator message by recipient and type, as the coordinator sent it (silent recipients included).
        var sentTo: [UInt32: [String: CoordinatorMessage]] = [:]
        /// The step (in `messages`) of the message a negative vector replaced.
        var tamperStep: Int?
        /// The ClientAbort code the receiving client sends after the tampered delivery, if any (SPEC 8.1).
        var tamperAbort: UInt16?
        var usedDraws: [UInt32: [String: JSONValue]] = [:]
        var noise: [UInt32: [Int64]] = [:]
        var dropped: [JSONValue] = []
        var inconsistent: [JSONValue] = []
        var receipts: [UInt32: ClientReceipt] = [:]
        var result: RoundResult?
        var abort: AbortReason?
        var tamperOutcome: TamperOutcome?
    }

    /// Drives the real client and coordinator state machines over the canonical encoding, in a fixed order:
    /// each coordinator message is delivered to its recipients in increasing index order; then the clients'
    /// answers reach the coordinator in increasing sender order; then the phase is closed.
    static func run(_ scenario: Scenario, tamper: Tamper? = nil) throws(VectorError) -> Run {
        let parameters = scenario.parameters
        var roster: [ParticipantIndex: RosterEntry] = [:]
        var machines: [UInt32: ClientStateMachine] = [:]
        var clients: [UInt32: Client] = [:]
        for client in scenario.clients {
            let endorsement = scenario.authority.map {
                $0.signature(for: Derivation.endorsementMessage(identityKey: client.identity.verifyingKey.rawRepresentation)).rawRepresentation
            } ?? []
            roster[client.index] = RosterEntry(identity: client.identity.verifyingKey, endorsement: endorsement)
            machines[client.index] = ClientStateMachine(
                configuration: ClientConfiguration(
                    identity: client.identity, policy: ClientPolicy(enrollmentAuthority: scenario.authority?.verifyingKey)),
                input: client.input)
            clients[client.index] = client
        }
        var coordinator: CoordinatorStateMachine
        do {
            coordinator = try CoordinatorStateMachine(configuration: CoordinatorConfiguration(
                parameters: parameters, roster: roster, timeouts: .uniform(.seconds(30)),
                noiseSource: TapeRandom(scenario.coordinatorNoiseTape)))
        } catch { throw .badField("round_parameters", "coordinator refuses: \(error)") }
        var run = Run()
        var clock: UInt64 = 0
        func now() -> ProtocolInstant {
            clock += 1_000_000_000
            return ProtocolInstant(nanoseconds: clock)
        }
        var pending: [CoordinatorAction]
        do { pending = try coordinator.start(now: now()) } catch { throw .disagreement("start: \(error)") }
        var step = 0
        while true {
            var replies: [(UInt32, ClientMessage)] = []
            var coordinatorActions: [CoordinatorAction] = []
            for action in pending.expandingRequests() {
                switch action {
                case let .send(message, recipients):
                    var bytes = message.encoded
                    run.messages.append(.object([
                        "step": .uint(step), "from": .uint(0), "to": .uints(recipients.sorted()), "type": .string(message.typeName),
                        "bytes": .hex(bytes),
                    ]))
                    step += 1
                    run.recipients[message.typeName, default: []].formUnion(recipients)
                    for recipient in recipients.sorted() {
                        run.sentTo[recipient, default: [:]][message.typeName] = message
                        guard let client = clients[recipient], var machine = machines[recipient] else { continue }
                        if let silent = client.silentFrom, (message.phase?.rawValue ?? 5) >= silent.rawValue { continue }
                        var tampered = false
                        if let tamper, tamper.recipient == recipient, tamper.type == message.typeName {
                            bytes = tamper.bytes
                            tampered = true
                            run.tamperStep = step - 1
                        }
                        let decoded: CoordinatorMessage
                        do { decoded = try CoordinatorMessage(decoding: bytes) } catch {
                            if tampered {
                                run.tamperOutcome = .rejected("malformed." + MessageVectors.wireErrorName(error))
                                run.tamperAbort = misbehaviourAbort(&machine)
                                return run
                            }
                            throw .disagreement("coordinator message does not decode: \(error)")
                        }
                        run.received[recipient, default: [:]][message.typeName] = decoded
                        var random = try tape(for: decoded, client: client, parameters: parameters, run: &run)
                        let actions: [ClientAction]
                        do { actions = try machine.handle(decoded, using: &random) } catch {
                            if tampered {
                                run.tamperOutcome = .rejected(violationName(error))
                                run.tamperAbort = misbehaviourAbort(&machine)
                                return run
                            }
                            throw .disagreement("client \(recipient) rejects \(message.typeName): \(error)")
                        }
                        if !tampered { try random.checkExhausted("client \(recipient), \(message.typeName)") }
                        if !random.recorded.isEmpty {
                            run.usedDraws[recipient, default: [:]]["noise_random_bytes"] = .hex(random.recorded)
                        }
                        machines[recipient] = machine
                        if tampered {
                            run.tamperOutcome = .accepted(actions.map(describe))
                            for case let .send(.abort(abort)) in actions { run.tamperAbort = abort.code }
                            return run
                        }
                        for action in actions {
                            switch action {
                            case var .send(reply):
                                // A corrupt holder flips one bit of the share it reveals for one owner.
                                if let owner = client.corruptsShareOf, case var .unmaskResponse(response) = reply,
                                   let position = response.shares.firstIndex(where: { $0.owner == owner }) {
                                    response.shares[position].share[0] ^= 0x01
                                    reply = .unmaskResponse(response)
                                }
                                replies.append((recipient, reply))
                            case let .finished(receipt): run.receipts[recipient] = receipt
                            }
                        }
                    }
                case let .participantDropped(index, phase, reason):
                    run.dropped.append(.object(["index": .uint(index), "phase": .string(phase.description), "reason": .string(dropName(reason))]))
                case let .inconsistentShares(owner, holders):
                    run.inconsistent.append(.object(["owner": .uint(owner), "holders": .uints(holders)]))
                case let .completed(result):
                    run.result = result
                case let .aborted(reason):
                    run.abort = reason
                case .phaseStarted, .sendShareKeysRequests:  // requests were expanded into sends above
                    break
                }
            }
            if coordinator.isFinished && replies.isEmpty { break }
            for (sender, reply) in replies.sorted(by: { $0.0 < $1.0 }) {
                var bytes = reply.encoded
                run.messages.append(.object([
                    "step": .uint(step), "from": .uint(sender), "to": .uints([0] as [UInt32]), "type": .string(reply.typeName),
                    "bytes": .hex(bytes),
                ]))
                step += 1
                run.sent[sender, default: [:]][reply.typeName] = reply
                var tampered = false
                if let tamper, tamper.recipient == 0, tamper.sender == sender, tamper.type == reply.typeName {
                    bytes = tamper.bytes
                    tampered = true
                    run.tamperStep = step - 1
                }
                let decoded: ClientMessage
                do { decoded = try ClientMessage(decoding: bytes) } catch {
                    if tampered { run.tamperOutcome = .rejected("malformed." + MessageVectors.wireErrorName(error)); return run }
                    throw .disagreement("client message does not decode: \(error)")
                }
                do {
                    coordinatorActions += try coordinator.handle(decoded, from: sender, now: now())
                    if tampered {
                        run.tamperOutcome = .accepted(["coordinator accepted \(reply.typeName)"])
                        return run
                    }
                } catch {
                    if tampered { run.tamperOutcome = .rejected(violationName(error)); return run }
                    throw .disagreement("coordinator rejects \(reply.typeName) from \(sender): \(error)")
                }
            }
            if coordinator.isFinished {
                pending = coordinatorActions
                if pending.isEmpty { break }
                continue
            }
            pending = coordinatorActions + coordinator.advance(now: now())
        }
        if tamper != nil { run.tamperOutcome = run.tamperOutcome ?? .accepted(["the tampered message was never delivered"]) }
        return run
    }

    /// The explicit draws a client consumes while handling `message` (SPEC "Random draws", in this order).
    private static func tape(
        for message: CoordinatorMessage, client: Client, parameters: RoundParameters, run: inout Run
    ) throws(VectorError) -> TapeRandom {
        let draws = client.draws
        func take(_ names: [String]) throws(VectorError) -> [UInt8] {
            var bytes: [UInt8] = []
            for name in names {
                let value = try draws.member(name)
                run.usedDraws[client.index, default: [:]][name] = value
                if name.hasSuffix("_coefficients") {
                    var rows: [[UInt64]] = []
                    for row in try draws.array(name) {
                        guard case let .array(values) = row, values.allSatisfy({ ($0.asUInt64 ?? .max) < Shamir.prime }) else {
                            throw .badField(name, "lists of integers below p")
                        }
                        rows.append(values.compactMap(\.asUInt64))
                    }
                    bytes += coefficientTape(rows)
                } else {
                    bytes += try draws.bytes(name)
                }
            }
            return bytes
        }
        switch message {
        case .advertiseKeysRequest:
            return TapeRandom(try take(["encryption_private_key", "masking_private_key"]))
        case .shareKeysRequest:
            return TapeRandom(try take(["self_mask_seed", "self_mask_coefficients", "masking_key_coefficients"]))
        case .maskedInputRequest:
            guard case .distributed = parameters.noise else { return TapeRandom([]) }
            if let stored = draws.optionalMember("noise_random_bytes") {
                run.usedDraws[client.index, default: [:]]["noise_random_bytes"] = stored
                return TapeRandom(try draws.bytes("noise_random_bytes"))
            }
            return TapeRandom([], fallback: SeededRandom(seed: 0x5EC_A66_0001, stream: "vectors/noise-\(client.index)"))
        default:
            return TapeRandom([])
        }
    }

    /// What a client's driver sends after the state machine rejected a coordinator message: it leaves the round with
    /// ClientAbort 0x0204 coordinatorMisbehaved (SPEC 8.1).
    private static func misbehaviourAbort(_ machine: inout ClientStateMachine) -> UInt16? {
        guard case let .abort(abort)? = machine.abort(.coordinatorMisbehaved, detail: "negative vector") else { return nil }
        return abort.code
    }

    static func dropName(_ reason: DropReason) -> String {
        switch reason {
        case .silent: return "silent"
        case .disconnected: return "disconnected"
        case let .aborted(code, _): return "aborted(0x" + String(code, radix: 16, uppercase: false).leftPadded(4) + ")"
        case .tooFewNeighbours: return "tooFewNeighbours"
        case let .violation(violation): return "violation(" + violationName(violation) + ")"
        }
    }

    static func describe(_ action: ClientAction) -> String {
        switch action {
        case let .send(.abort(abort)): return "send clientAbort(0x" + String(abort.code, radix: 16).leftPadded(4) + ")"
        case let .send(message): return "send \(message.typeName)"
        case let .finished(receipt):
            switch receipt.outcome {
            case let .completed(count): return "finished completed(\(count))"
            case let .aborted(code, _): return "finished aborted(0x" + String(code, radix: 16).leftPadded(4) + ")"
            }
        }
    }

    static func violationName(_ error: ClientError) -> String {
        switch error {
        case let .coordinatorViolation(violation): return violationName(violation)
        case .usage: return "usage"
        }
    }

    static func violationName(_ error: CoordinatorError) -> String {
        switch error {
        case let .participantViolation(_, violation): return violationName(violation)
        case .usage: return "usage"
        }
    }

    static func violationName(_ violation: ProtocolViolation) -> String {
        switch violation {
        case let .malformed(error): return "malformed." + MessageVectors.wireErrorName(error)
        case .wrongRound: return "wrongRound"
        case .unexpectedMessage: return "unexpectedMessage"
        case .duplicateMessage: return "duplicateMessage"
        case .notAParticipant: return "notAParticipant"
        case .badSignature: return "badSignature"
        case .invalidKey: return "invalidKey"
        case .invalidShare: return "invalidShare"
        case .invalidVector: return "invalidVector"
        case .inconsistentView: return "inconsistentView"
        case .oversizedMessage: return "oversizedMessage"
        }
    }

    // MARK: Computing a transcript with every intermediate value

    static func compute(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let scenario = try scenario(from: input)
        let parameters = scenario.parameters
        var run = try run(scenario)
        let bits = Int(parameters.bits)
        let dimension = Int(parameters.dimension)
        let digest = Derivation.roundDigest(parameters)
        try require(digest == Blake2b.hash(Spec.label(Derivation.roundDigestLabel) + parameters.encoded), "round digest")

        var out: [String: JSONValue] = [
            "name": try input.member("name"), "round_parameters": .hex(parameters.encoded),
            "parameters": MessageVectors.describe(parameters), "round_digest": .hex(digest),
            "enrollment_authority_seed": input.optionalMember("enrollment_authority_seed") ?? .null,
            "messages": .array(run.messages), "dropped": .array(run.dropped),
        ]
        if let authority = scenario.authority { out["enrollment_authority_key"] = .hex(authority.verifyingKey.rawRepresentation) }

        // U1: every client whose AdvertiseKeys reached the coordinator (nothing is tampered with here), with its roster
        // identity and endorsement as the coordinator relays them.
        let invited = Int(parameters.invitedCount)
        let firstSet = firstSet(scenario: scenario, run: run)
        // The advertisement tree, session id and graph (SPEC 5.13, 5.3, 5.4, 7), recomputed from the spec's formulas and
        // checked against every ShareKeysRequest and against the protocol code's derivations.
        let shareRequests = run.sentTo.compactMap { recipient, messages -> (UInt32, ShareKeysRequest)? in
            guard case let .shareKeysRequest(request)? = messages["shareKeysRequest"] else { return nil }
            return (recipient, request)
        }.sorted { $0.0 < $1.0 }
        var session: [UInt8] = []
        var graph: Spec.Graph?
        var u1Tree: Spec.Merkle?
        if !shareRequests.isEmpty {
            var byIndex: [UInt32: Spec.Advertisement] = [:]
            for entry in firstSet {
                byIndex[entry.index] = Spec.Advertisement(
                    index: entry.index, identityKey: entry.identityKey, encryptionKey: entry.encryptionKey,
                    maskingKey: entry.maskingKey, signature: entry.signature)
            }
            let leaves = (1...UInt32(invited)).map { Spec.advertisementLeaf(index: $0, byIndex[$0]) }
            let tree = Spec.Merkle(leaves: leaves)
            u1Tree = tree
            let count = UInt32(firstSet.count)
            session = Spec.sessionID(roundDigest: digest, advertisedCount: count, u1Root: tree.root)
            try require(session == Derivation.sessionID(roundDigest: digest, advertisedCount: count, advertisementRoot: tree.root),
                        "session id")
            let seed = Spec.graphSeed(sessionID: session)
            try require(seed == Derivation.graphSeed(sessionID: session), "graph seed")
            var degree: Int?
            if case let .harary(k) = parameters.graph { degree = Int(k) }
            let built = try Spec.Graph(invitedCount: invited, degree: degree, seed: seed)
            graph = built
            let codeGraph: NeighborGraph
            do { codeGraph = try Derivation.neighbourGraph(parameters: parameters, sessionID: session) } catch {
                throw .disagreement("the protocol code cannot build the graph: \(error)")
            }
            var neighbours: [String: JSONValue] = [:]
            for u in 1...UInt32(invited) {
                let adjacent = built.neighbours(of: u)
                try require(codeGraph.ringPosition(of: u) == built.position[Int(u) - 1], "ring position of \(u)")
                try require(codeGraph.neighbors(of: u) == adjacent, "neighbours of \(u)")
                neighbours[String(u)] = .uints(adjacent)
            }
            for (recipient, request) in shareRequests {
                let proven = ([recipient] + built.neighbours(of: recipient)).sorted()
                let expected = ShareKeysRequest(
                    roundID: parameters.roundID, advertisedCount: count, advertisementRoot: tree.root,
                    advertisements: firstSet.filter { proven.contains($0.index) },
                    proof: DigestList(tree.proof(proven.map { Int($0) - 1 })))
                try require(request == expected, "ShareKeysRequest to \(recipient) (SPEC 4.4: count, root, neighbourhood, proof)")
            }
            out["advertised_count"] = .uint(count)
            out["u1_leaves"] = .array(leaves.map { .hex($0) })
            out["u1_root"] = .hex(tree.root)
            out["session_id"] = .hex(session)
            out["graph_seed"] = .hex(seed)
            out["ring"] = .uints(built.ring)
            out["neighbours"] = .object(neighbours)
        }

        // The survivor sets. U2 is everyone sent a MaskedInputRequest, U3 every sender of a masked input, U4 everyone
        // sent an UnmaskRequest (silent clients included).
        var sets: [String: JSONValue] = ["U1": .uints(firstSet.map(\.index))]
        let secondSet = (run.recipients["maskedInputRequest"] ?? []).sorted()
        let unmaskRecipients = (run.recipients["unmaskRequest"] ?? []).sorted()
        let thirdSet = scenario.clients.map(\.index).filter { run.sent[$0]?["maskedInput"] != nil }.sorted()
        sets["U2"] = .uints(secondSet)
        sets["U3"] = .uints(thirdSet)
        if parameters.mode == .active { sets["U4"] = .uints(unmaskRecipients) }
        let responders = scenario.clients.map(\.index).filter { run.sent[$0]?["unmaskResponse"] != nil }
        sets["U5"] = .uints(responders)
        out["sets"] = .object(sets)

        // The survivor tree in ring-position order (SPEC 5.13) and every survivor view sent (SPEC 4.1.9), and in
        // active mode the consistency input and the neighbours' signatures relayed (SPEC 5.7, 4.7).
        var survivorTree: Spec.Merkle?
        var consistencyInput: [UInt8] = []
        let views = run.sentTo.flatMap { recipient, messages -> [(UInt32, SurvivorView, [ConsistencySignature]?)] in
            var found: [(UInt32, SurvivorView, [ConsistencySignature]?)] = []
            if case let .consistencyCheckRequest(request)? = messages["consistencyCheckRequest"] {
                found.append((recipient, request.survivors, nil))
            }
            if case let .unmaskRequest(request)? = messages["unmaskRequest"] { found.append((recipient, request.survivors, request.signatures)) }
            return found
        }.sorted { $0.0 < $1.0 }
        if !views.isEmpty, let graph {
            let survivors = Set(thirdSet)
            let leaves = graph.ring.map { Spec.survivorLeaf(participant: $0, survived: survivors.contains($0)) }
            let tree = Spec.Merkle(leaves: leaves)
            survivorTree = tree
            let count = UInt32(thirdSet.count)
            for (recipient, view, signatures) in views {
                let positions = graph.viewPositions(of: recipient)
                let expected = SurvivorView(
                    survivorCount: count, survivorRoot: tree.root,
                    statuses: positions.map { survivors.contains(graph.ring[$0]) }, proof: DigestList(tree.proof(positions)))
                try require(view == expected, "survivor view of \(recipient) (SPEC 4.1.9)")
                guard let signatures, parameters.mode == .active else { continue }
                let relayed = graph.neighbours(of: recipient).compactMap { neighbour -> ConsistencySignature? in
                    guard case let .consistencyResponse(response)? = run.sent[neighbour]?["consistencyResponse"] else { return nil }
                    return ConsistencySignature(index: neighbour, signature: response.signature)
                }
                try require(signatures == relayed, "consistency signatures sent to \(recipient): exactly its neighbours' (SPEC 4.7)")
            }
            out["survivor_count"] = .uint(count)
            out["survivor_leaves"] = .array(leaves.map { .hex($0) })
            out["survivor_root"] = .hex(tree.root)
            if parameters.mode == .active {
                consistencyInput = Spec.consistencyInput(sessionID: session, survivorCount: count, survivorRoot: tree.root)
                try require(consistencyInput == Derivation.consistencyMessage(
                    sessionID: session, survivorCount: count, survivorRoot: tree.root), "consistency input")
                out["consistency_input"] = .hex(consistencyInput)
            }
        }

        // Per client: keys, signature, shares dealt, masks, masked input.
        var clientsOut: [JSONValue] = []
        var noisySum = [UInt64](repeating: 0, count: dimension)
        var inputSum = [UInt64](repeating: 0, count: dimension)
        let mask: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        for client in scenario.clients {
            var entry: [String: JSONValue] = [
                "index": .uint(client.index), "identity_seed": .hex(client.identity.seed.unsafeCopyToArray()),
                "identity_key": .hex(client.identity.verifyingKey.rawRepresentation), "input": .uints(client.input),
                "silent_from": client.silentFrom.map { .string($0.description) } ?? .null,
                "corrupts_revealed_share_of": client.corruptsShareOf.map { .uint($0) } ?? .null,
                "draws": .object(run.usedDraws[client.index] ?? [:]),
            ]
            let draws = client.draws
            if case let .advertiseKeys(advertise)? = run.sent[client.index]?["advertiseKeys"] {
                let encryption = try Spec.x25519(try draws.bytes("encryption_private_key"), field: "encryption_private_key")
                let masking = try Spec.x25519(try draws.bytes("masking_private_key"), field: "masking_private_key")
                try require(advertise.encryptionKey == encryption.publicKey.rawRepresentation
                            && advertise.maskingKey == masking.publicKey.rawRepresentation, "advertised keys of \(client.index)")
                let signed = Spec.label(Derivation.advertisementLabel) + digest + Spec.u32(client.index)
                    + advertise.encryptionKey + advertise.maskingKey
                try require(advertise.signature == client.identity.signature(for: signed).rawRepresentation,
                            "advertisement signature of \(client.index)")
                entry["encryption_public_key"] = .hex(advertise.encryptionKey)
                entry["masking_public_key"] = .hex(advertise.maskingKey)
                entry["advertisement_input"] = .hex(signed)
                entry["advertisement_signature"] = .hex(advertise.signature)
                if scenario.authority != nil { entry["endorsement"] = .hex(endorsement(of: client, authority: scenario.authority)) }
            }
            if let graph, let u1Tree, case .shareKeysRequest? = run.sentTo[client.index]?["shareKeysRequest"] {
                let slots = ([client.index] + graph.neighbours(of: client.index)).map { Int($0) - 1 }.sorted()
                entry["u1_proof_slots"] = .uints(slots)
                entry["u1_proof"] = .array(u1Tree.proof(slots).map { .hex($0) })
            }
            if case let .shareKeys(shareKeys)? = run.sent[client.index]?["shareKeys"], let graph {
                try dealt(client: client, message: shareKeys, graph: graph, session: session, firstSet: firstSet,
                          parameters: parameters, into: &entry)
            }
            if case let .maskedInput(masked)? = run.sent[client.index]?["maskedInput"],
               case let .maskedInputRequest(request)? = run.received[client.index]?["maskedInputRequest"] {
                let lanes = try maskedLanes(
                    client: client, request: request, firstSet: firstSet, session: session, parameters: parameters,
                    run: &run, into: &entry)
                let encoded: [UInt8]
                do { encoded = try ModularVector(values: lanes, bits: bits).encoded() } catch { throw .disagreement("lanes") }
                try require(encoded == masked.vector, "masked input of \(client.index) (y_u of SPEC 5.8)")
                entry["masked_input"] = .uints(lanes)
                if thirdSet.contains(client.index) {
                    let noise = run.noise[client.index] ?? []
                    for lane in 0..<dimension {
                        let noiseLane = noise.isEmpty ? 0 : UInt64(bitPattern: noise[lane]) & mask
                        noisySum[lane] = (noisySum[lane] &+ client.input[lane] &+ noiseLane) & mask
                        inputSum[lane] = (inputSum[lane] &+ client.input[lane]) & mask
                    }
                }
            }
            if let graph, let survivorTree,
               run.sentTo[client.index]?["consistencyCheckRequest"] != nil || run.sentTo[client.index]?["unmaskRequest"] != nil {
                let positions = graph.viewPositions(of: client.index)
                entry["survivor_positions"] = .uints(positions)
                entry["survivor_statuses"] = .uints(positions.map { thirdSet.contains(graph.ring[$0]) ? 1 : 0 })
                entry["survivor_proof"] = .array(survivorTree.proof(positions).map { .hex($0) })
            }
            if case let .consistencyResponse(response)? = run.sent[client.index]?["consistencyResponse"] {
                let signature = client.identity.signature(for: consistencyInput).rawRepresentation
                try require(response.signature == signature, "consistency signature of \(client.index) (SPEC 5.7)")
                entry["consistency_signature"] = .hex(signature)
            }
            if let receipt = run.receipts[client.index] {
                switch receipt.outcome {
                case let .completed(count): entry["outcome"] = .object(["result": .string("completed"), "survivor_count": .uint(count)])
                case let .aborted(code, _): entry["outcome"] = .object(["result": .string("aborted"), "code": .uint(code)])
                }
            } else {
                entry["outcome"] = .null
            }
            clientsOut.append(.object(entry))
        }
        out["clients"] = .array(clientsOut)

        // Reconstruction from the revealed shares, as the coordinator performs it.
        out["reconstructed"] = .array(try reconstructions(
            scenario: scenario, run: run, secondSet: secondSet, thirdSet: thirdSet, graph: graph, session: session))

        if !scenario.coordinatorNoise.isEmpty {
            out["coordinator_draws"] = .object(["noise_random_bytes": .hex(scenario.coordinatorNoiseTape)])
            out["coordinator_noise"] = .array(scenario.coordinatorNoise.map { .number(String($0)) })
            if run.result != nil {
                for lane in 0..<dimension {
                    noisySum[lane] = (noisySum[lane] &+ (UInt64(bitPattern: scenario.coordinatorNoise[lane]) & mask)) & mask
                }
            }
        }
        if let result = run.result {
            try require(result.sum.values == noisySum, "released sum equals the survivors' inputs (plus their noise)")
            var released: [String: JSONValue] = [
                "result": .string("completed"), "sum": .uints(result.sum.values), "survivors": .uints(result.survivors),
                "input_sum": .uints(inputSum),
            ]
            if parameters.noise != .none { released["signed_sum"] = .array(result.sum.signedValues.map { .number(String($0)) }) }
            out["outcome"] = .object(released)
        } else if let abort = run.abort {
            out["outcome"] = .object(["result": .string("aborted"), "code": .uint(abort.code.rawValue)])
        } else {
            throw .disagreement("the round neither completed nor aborted")
        }
        out["inconsistent_shares"] = .array(run.inconsistent)
        return .object(out)
    }

    /// U1 as the coordinator relays it: the advertisement of every client whose AdvertiseKeys it received (nothing is
    /// tampered with in a transcript), with its roster identity and endorsement, by increasing index.
    static func firstSet(scenario: Scenario, run: Run) -> [KeyAdvertisement] {
        var firstSet: [KeyAdvertisement] = []
        for client in scenario.clients.sorted(by: { $0.index < $1.index }) {
            guard case let .advertiseKeys(advertise)? = run.sent[client.index]?["advertiseKeys"] else { continue }
            firstSet.append(KeyAdvertisement(
                index: client.index, identityKey: client.identity.verifyingKey.rawRepresentation,
                encryptionKey: advertise.encryptionKey, maskingKey: advertise.maskingKey, signature: advertise.signature,
                endorsement: endorsement(of: client, authority: scenario.authority)))
        }
        return firstSet
    }

    /// The endorsement of a client's identity: the authority's signature over label("secagg/v1/endorse") ‖ identity
    /// key (SPEC 5.1), or empty without an authority.
    static func endorsement(of client: Client, authority: Ed25519.SigningKey?) -> [UInt8] {
        guard let authority else { return [] }
        return authority.signature(
            for: Spec.label("secagg/v1/endorse") + client.identity.verifyingKey.rawRepresentation).rawRepresentation
    }

    /// The shares a client dealt, recomputed from its draws, and checked against the ciphertexts it sent.
    private static func dealt(
        client: Client, message: ShareKeys, graph: Spec.Graph, session: [UInt8], firstSet: [KeyAdvertisement],
        parameters: RoundParameters, into entry: inout [String: JSONValue]
    ) throws(VectorError) {
        let draws = client.draws
        let seed = try draws.bytes("self_mask_seed")
        let masking = try draws.bytes("masking_private_key")
        let encryption = try Spec.x25519(try draws.bytes("encryption_private_key"), field: "encryption_private_key")
        func rows(_ name: String) throws(VectorError) -> [[UInt64]] {
            var rows: [[UInt64]] = []
            for row in try draws.array(name) {
                guard case let .array(values) = row else { throw .badField(name, "list of lists") }
                rows.append(values.compactMap(\.asUInt64))
            }
            return rows
        }
        let (seedChunks, keyChunks) = (Spec.chunks(of: seed), Spec.chunks(of: masking))
        let (seedRows, keyRows) = (try rows("self_mask_coefficients"), try rows("masking_key_coefficients"))
        let commitment = PrimitiveVectors.keyedHash(
            key: seed, label: Derivation.selfMaskCommitmentLabel, context: session + Spec.u32(client.index))
        try require(commitment == message.selfMaskCommitment, "self-mask commitment of \(client.index)")
        entry["self_mask_commitment"] = .hex(commitment)
        entry["self_mask_key"] = .hex(PrimitiveVectors.keyedHash(
            key: seed, label: Derivation.selfMaskLabel, context: session + Spec.u32(client.index)))
        // N(u) ∩ U1: the graph is over the invited indices; neighbours absent from U1 are dropped neighbours (SPEC 7.3).
        let neighbours = graph.neighbours(of: client.index).filter { index in firstSet.contains { $0.index == index } }
        try require(message.shares.map(\.recipient) == neighbours, "recipients of \(client.index)'s shares")
        var dealt: [JSONValue] = []
        for share in message.shares {
            let holder = share.recipient
            let x = UInt64(holder)
            let seedShare = seedChunks.indices.map { Spec.evaluate([seedChunks[$0]] + seedRows[$0], at: x) }
            let keyShare = keyChunks.indices.map { Spec.evaluate([keyChunks[$0]] + keyRows[$0], at: x) }
            let encode: ([UInt64]) -> [UInt8] = { values in values.flatMap { value in (0..<8).map { UInt8(value >> (8 * $0) & 0xff) } } }
            let bundle = Spec.u32(client.index) + Spec.u32(holder) + [0, 40] + encode(seedShare) + [0, 40] + encode(keyShare)
            guard let peer = firstSet.first(where: { $0.index == holder }) else { throw .disagreement("holder \(holder) not in U1") }
            let agreement = try Spec.agreement(encryption, try Spec.x25519Public(peer.encryptionKey, field: "encryption_key"))
            let binding = session + Spec.u32(client.index) + Spec.u32(holder)
            let key = PrimitiveVectors.keyedHash(key: Spec.bytes(of: agreement), label: Derivation.shareEncryptionLabel, context: binding)
            let sealed: [UInt8]
            do {
                sealed = try ChaChaPoly.seal(SecureBytes(copying: bundle), using: try Spec.symmetricKey(key),
                                             nonce: [UInt8](repeating: 0, count: 12), authenticating: binding)
            } catch { throw .disagreement("seal: \(error)") }
            try require(sealed == share.ciphertext, "ciphertext of \(client.index)'s bundle for \(holder) (SPEC 5.2)")
            dealt.append(.object([
                "holder": .uint(holder), "self_mask_share": .uints(seedShare), "masking_key_share": .uints(keyShare),
                "bundle": .hex(bundle), "agreement": .hex(Spec.bytes(of: agreement)), "associated_data": .hex(binding),
                "key": .hex(key), "ciphertext": .hex(sealed),
            ]))
        }
        entry["self_mask_seed_chunks"] = .uints(seedChunks)
        entry["masking_key_chunks"] = .uints(keyChunks)
        entry["dealt"] = .array(dealt)
    }

    /// y_u recomputed from SPEC 5.8 (and 5.10 for noise), with every mask key listed.
    private static func maskedLanes(
        client: Client, request: MaskedInputRequest, firstSet: [KeyAdvertisement], session: [UInt8],
        parameters: RoundParameters, run: inout Run, into entry: inout [String: JSONValue]
    ) throws(VectorError) -> [UInt64] {
        let bits = Int(parameters.bits)
        let dimension = Int(parameters.dimension)
        let modulus = bits == 64 ? UInt64(0) : UInt64(1) << UInt64(bits)
        let mask: UInt64 = bits == 64 ? .max : modulus - 1
        var lanes = client.input
        if case let .distributed(variance) = parameters.noise {
            // The samples the exact sampler draws from the recorded bytes (SPEC 5.10).
            let recorded = JSONValue.object(run.usedDraws[client.index] ?? [:])
            var random = TapeRandom(try recorded.bytes("noise_random_bytes"))
            let gaussian: DiscreteGaussian
            do { gaussian = try DiscreteGaussian(sigmaSquared: try Rational(variance.numerator, variance.denominator)) } catch {
                throw .disagreement("noise variance")
            }
            let samples = gaussian.samples(count: dimension, using: &random)
            try random.checkExhausted("noise of \(client.index)")
            run.noise[client.index] = samples
            entry["noise"] = .array(samples.map { .number(String($0)) })
            for lane in 0..<dimension { lanes[lane] = (lanes[lane] &+ (UInt64(bitPattern: samples[lane]) & mask)) & mask }
        }
        let seed = try client.draws.bytes("self_mask_seed")
        let selfKey = PrimitiveVectors.keyedHash(key: seed, label: Derivation.selfMaskLabel, context: session + Spec.u32(client.index))
        let selfMask = try Spec.prgLanes(key: selfKey, bits: bits, dimension: dimension).lanes
        for lane in 0..<dimension { lanes[lane] = (lanes[lane] &+ selfMask[lane]) & mask }
        entry["self_mask"] = .uints(selfMask)
        let masking = try Spec.x25519(try client.draws.bytes("masking_private_key"), field: "masking_private_key")
        var pairwise: [JSONValue] = []
        for share in request.shares {
            let neighbour = share.sender
            guard let peer = firstSet.first(where: { $0.index == neighbour }) else { throw .disagreement("sender not in U1") }
            let agreement = try Spec.agreement(masking, try Spec.x25519Public(peer.maskingKey, field: "masking_key"))
            let context = session + Spec.u32(min(client.index, neighbour)) + Spec.u32(max(client.index, neighbour))
            let key = PrimitiveVectors.keyedHash(key: Spec.bytes(of: agreement), label: Derivation.pairwiseMaskLabel, context: context)
            let prg = try Spec.prgLanes(key: key, bits: bits, dimension: dimension).lanes
            let adds = client.index < neighbour
            for lane in 0..<dimension {
                lanes[lane] = (adds ? lanes[lane] &+ prg[lane] : lanes[lane] &- prg[lane]) & mask
            }
            pairwise.append(.object([
                "neighbour": .uint(neighbour), "agreement": .hex(Spec.bytes(of: agreement)), "key": .hex(key),
                "sign": .number(adds ? "1" : "-1"), "mask": .uints(prg),
            ]))
        }
        entry["pairwise_masks"] = .array(pairwise)
        return lanes
    }

    /// Every secret the coordinator must rebuild, from the shares revealed in UnmaskResponse (first t, increasing
    /// holder), checked against the owner's draws.
    private static func reconstructions(
        scenario: Scenario, run: Run, secondSet: [UInt32], thirdSet: [UInt32], graph: Spec.Graph?, session: [UInt8]
    ) throws(VectorError) -> [JSONValue] {
        guard run.result != nil, let graph else { return [] }
        let threshold = Int(scenario.parameters.threshold)
        var revealed: [UInt32: [(UInt32, RevealedShare)]] = [:]
        for client in scenario.clients {
            guard case let .unmaskResponse(response)? = run.sent[client.index]?["unmaskResponse"] else { continue }
            for share in response.shares { revealed[share.owner, default: []].append((client.index, share)) }
        }
        var out: [JSONValue] = []
        for owner in secondSet {
            let survived = thirdSet.contains(owner)
            if !survived && !graph.neighbours(of: owner).contains(where: thirdSet.contains) { continue }
            let shares = (revealed[owner] ?? []).sorted { $0.0 < $1.0 }
            try require(shares.allSatisfy { $0.1.kind == (survived ? .selfMask : .maskingKey) }, "never-both rule for \(owner)")
            var parsed: [ShamirShare] = []
            for (holder, share) in shares {
                do { parsed.append(try ShamirShare(x: holder, encoded: share.share)) } catch { throw .disagreement("share") }
            }
            guard let client = scenario.clients.first(where: { $0.index == owner }) else { throw .disagreement("owner") }
            let expected = try client.draws.bytes(survived ? "self_mask_seed" : "masking_private_key")
            // The external checks of SPEC 6.4, computed from the owner's published values.
            let check: [UInt8]
            if survived {
                check = PrimitiveVectors.keyedHash(
                    key: expected, label: Derivation.selfMaskCommitmentLabel, context: session + Spec.u32(owner))
            } else {
                check = try Spec.x25519(expected, field: "masking_private_key").publicKey.rawRepresentation
            }
            let result: (secret: SecureBytes, inconsistent: [UInt32])
            do {
                result = try Shamir.robustCombine(parsed, threshold: threshold, secretByteCount: 32) { candidate in
                    if survived {
                        return PrimitiveVectors.keyedHash(key: candidate.unsafeCopyToArray(), label: Derivation.selfMaskCommitmentLabel,
                                                          context: session + Spec.u32(owner)) == check
                    }
                    return (try? X25519.PrivateKey(rawRepresentation: candidate))?.publicKey.rawRepresentation == check
                }
            } catch { throw .disagreement("reconstruction of \(owner): \(error)") }
            let secret = result.secret.unsafeCopyToArray()
            try require(secret == expected, "reconstructed secret of \(owner)")
            out.append(.object([
                "owner": .uint(owner), "kind": .string(survived ? "self_mask" : "masking_key"),
                "holders": .uints(shares.map(\.0)), "inconsistent_holders": .uints(result.inconsistent),
                "check": .hex(check), "secret": .hex(secret),
            ]))
        }
        return out
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
