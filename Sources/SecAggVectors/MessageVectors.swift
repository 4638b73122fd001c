import SecAggProtocol
import SecAggWire

/// Canonical encodings of every message type (SPEC 4), and the decoded view used in every vector file.
enum MessageVectors {
    static let messages = VectorFileKind(
        name: "messages.json",
        description: "One encoding of every message type (SPEC 4.2-4.9): `encoded` is the canonical envelope; `fields` "
            + "is its decoded content (byte strings in hex, indices and counts as integers). Decoding `encoded` MUST give "
            + "`fields`, and encoding `fields` MUST give `encoded`.",
        inputs: messageInputs, compute: computeMessage)

    /// Parameters used where any valid round will do (n = 8, Harary degree 4 unless changed).
    static func sampleParameters(graph: GraphShape, mode: RoundMode, noise: NoiseParameters = .none) -> RoundParameters {
        var material = Material("parameters")
        guard let roundID = RoundID(bytes: material.bytes(16)) else { preconditionFailure("a round id has 16 bytes") }
        return RoundParameters(
            roundID: roundID, taskName: "vectors", dimension: 8, bits: 16, maximumInput: 1000, graph: graph,
            threshold: 3, minimumSurvivors: 4, mode: mode, invitedCount: 8, nonce: material.bytes(32), noise: noise)
    }

    private static func messageInputs() throws(VectorError) -> [JSONValue] {
        var material = Material("messages")
        let parameters = sampleParameters(
            graph: .harary(degree: 4), mode: .active,
            noise: .distributed(localVariance: NoiseVariance(numerator: 9, denominator: 2)))
        let roundID = parameters.roundID
        let advertisements = [1, 2, 5].map { (index: UInt32) in
            KeyAdvertisement(
                index: index, identityKey: material.bytes(32), encryptionKey: material.bytes(32),
                maskingKey: material.bytes(32), signature: material.bytes(64),
                endorsement: index == 2 ? material.bytes(64) : [])
        }
        let encrypted = [2, 4].map { (sender: UInt32) in
            EncryptedShare(sender: sender, recipient: 3, ciphertext: material.bytes(108))
        }
        let view = SurvivorView(
            survivorCount: 6, survivorRoot: material.bytes(32), statuses: [true, true, false, true, true],
            proof: DigestList((0..<2).map { _ in material.bytes(32) }))
        let coordinator: [(String, CoordinatorMessage)] = [
            ("advertise-keys-request", .advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 3))),
            ("share-keys-request", .shareKeysRequest(ShareKeysRequest(
                roundID: roundID, advertisedCount: 7, advertisementRoot: material.bytes(32), advertisements: advertisements,
                proof: DigestList((0..<3).map { _ in material.bytes(32) })))),
            ("masked-input-request", .maskedInputRequest(MaskedInputRequest(roundID: roundID, shares: encrypted))),
            ("consistency-check-request", .consistencyCheckRequest(ConsistencyCheckRequest(roundID: roundID, survivors: view))),
            ("unmask-request", .unmaskRequest(UnmaskRequest(
                roundID: roundID, survivors: view,
                signatures: [1, 4].map { ConsistencySignature(index: $0, signature: material.bytes(64)) }))),
            ("unmask-request-honest-but-curious", .unmaskRequest(UnmaskRequest(
                roundID: roundID,
                survivors: SurvivorView(
                    survivorCount: 8, survivorRoot: material.bytes(32), statuses: [true, true, true, true, true, true, true, true],
                    proof: DigestList()),
                signatures: []))),
            ("round-outcome-completed", .roundOutcome(RoundOutcome(roundID: roundID, result: .completed(survivorCount: 4)))),
            ("round-outcome-aborted", .roundOutcome(RoundOutcome(
                roundID: roundID, result: .aborted(code: AbortCode.tooFewMaskedInputs.rawValue, reason: "3 masked inputs, 4 needed")))),
        ]
        let client: [(String, ClientMessage)] = [
            ("advertise-keys", .advertiseKeys(AdvertiseKeys(
                roundID: roundID, encryptionKey: material.bytes(32), maskingKey: material.bytes(32), signature: material.bytes(64)))),
            ("share-keys", .shareKeys(ShareKeys(
                roundID: roundID, selfMaskCommitment: material.bytes(32),
                shares: [1, 4].map { EncryptedShare(sender: 3, recipient: $0, ciphertext: material.bytes(108)) }))),
            ("masked-input", .maskedInput(MaskedInput(roundID: roundID, vector: material.bytes(32)))),
            ("consistency-response", .consistencyResponse(ConsistencyResponse(roundID: roundID, signature: material.bytes(64)))),
            ("unmask-response", .unmaskResponse(UnmaskResponse(roundID: roundID, shares: [
                RevealedShare(owner: 1, kind: .selfMask, share: material.bytes(40).map { $0 & 0x1f }),
                RevealedShare(owner: 4, kind: .maskingKey, share: material.bytes(40).map { $0 & 0x1f }),
            ]))),
            ("client-abort", .abort(ClientAbort(roundID: roundID, code: AbortCode.cancelled.rawValue, reason: "shutting down"))),
        ]
        var cases: [JSONValue] = []
        for (name, message) in coordinator { cases.append(.object(["name": .string(name), "encoded": .hex(message.encoded)])) }
        for (name, message) in client { cases.append(.object(["name": .string(name), "encoded": .hex(message.encoded)])) }
        let session: [(String, [UInt8])] = [
            ("join-request", JoinRequest(taskName: "histogram").encoded),
            ("join-response-accepted", JoinResponse(result: .accepted).encoded),
            ("join-response-refused", JoinResponse(result: .refused(.unknownTask, reason: "no task named histogram")).encoded),
            ("join-response-not-enrolled", JoinResponse(result: .refused(.notEnrolled, reason: "not enrolled")).encoded),
            ("outcome-query", OutcomeQuery(roundID: roundID).encoded),
            ("drop-notice", DropNotice(roundID: roundID, phase: 2, cause: .silent, reason: "no message before the phase closed").encoded),
            ("outcome-receipt-included", OutcomeReceipt(
                roundID: roundID, status: .included, survivorCount: 7, sumDigest: material.bytes(32),
                signature: material.bytes(64)).encoded),
            ("outcome-receipt-aborted", OutcomeReceipt(
                roundID: roundID, status: .aborted, abortCode: AbortCode.tooFewMaskedInputs.rawValue,
                signature: material.bytes(64)).encoded),
        ]
        for (name, bytes) in session { cases.append(.object(["name": .string(name), "encoded": .hex(bytes)])) }
        return cases
    }

    private static func computeMessage(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let encoded = try input.bytes("encoded")
        var out: [String: JSONValue] = ["encoded": .hex(encoded)]
        if let name = input.optionalMember("name") { out["name"] = name }
        let decoded: (type: String, fields: JSONValue)
        do { decoded = try decodeAny(encoded) } catch { throw .badField("encoded", "does not decode: \(error)") }
        out["type"] = .string(decoded.type)
        out["type_code"] = .uint(encoded.count > 2 ? encoded[2] : 0)
        out["fields"] = decoded.fields
        return .object(out)
    }

    /// Decodes any message by its type code and re-encodes it, requiring the same bytes (canonical form).
    static func decodeAny(_ bytes: [UInt8]) throws -> (type: String, fields: JSONValue) {
        let type = bytes.count > 2 ? bytes[2] : 0
        switch type {
        case 0x01...0x06:
            let message = try CoordinatorMessage(decoding: bytes)
            try require(message.encoded == bytes, "coordinator message re-encodes to the same bytes")
            return (message.typeName, describe(message))
        case 0x41...0x46:
            let message = try ClientMessage(decoding: bytes)
            try require(message.encoded == bytes, "client message re-encodes to the same bytes")
            return (message.typeName, describe(message))
        case OutcomeQuery.typeCode:
            let message = try OutcomeQuery(decoding: bytes)
            try require(message.encoded == bytes, "outcome query re-encodes to the same bytes")
            return ("outcomeQuery", .object(["round_id": .hex(message.roundID.bytes)]))
        case OutcomeReceipt.typeCode:
            let message = try OutcomeReceipt(decoding: bytes)
            try require(message.encoded == bytes, "outcome receipt re-encodes to the same bytes")
            return ("outcomeReceipt", .object([
                "round_id": .hex(message.roundID.bytes), "status": .uint(message.status.rawValue),
                "survivor_count": .uint(message.survivorCount), "abort_code": .uint(message.abortCode),
                "sum_digest": .hex(message.sumDigest), "signature": .hex(message.signature),
            ]))
        case DropNotice.typeCode:
            let message = try DropNotice(decoding: bytes)
            try require(message.encoded == bytes, "drop notice re-encodes to the same bytes")
            return ("dropNotice", .object([
                "round_id": .hex(message.roundID.bytes), "phase": .uint(message.phase),
                "cause": .uint(message.cause.rawValue), "reason": .string(message.reason),
            ]))
        case JoinRequest.typeCode:
            let message = try JoinRequest(decoding: bytes)
            try require(message.encoded == bytes, "join request re-encodes to the same bytes")
            return ("joinRequest", .object(["task_name": .string(message.taskName)]))
        default:
            let message = try JoinResponse(decoding: bytes)
            try require(message.encoded == bytes, "join response re-encodes to the same bytes")
            switch message.result {
            case .accepted: return ("joinResponse", .object(["code": .uint(0), "reason": .string("")]))
            case let .refused(refusal, reason):
                return ("joinResponse", .object(["code": .uint(refusal.rawValue), "reason": .string(reason)]))
            }
        }
    }

    static func describe(_ parameters: RoundParameters) -> JSONValue {
        var fields: [String: JSONValue] = [
            "round_id": .hex(parameters.roundID.bytes), "task_name": .string(parameters.taskName),
            "dimension": .uint(parameters.dimension), "bits": .uint(parameters.bits),
            "maximum_input": .uint(parameters.maximumInput), "threshold": .uint(parameters.threshold),
            "minimum_survivors": .uint(parameters.minimumSurvivors),
            "mode": .string(parameters.mode == .active ? "active" : "honest_but_curious"),
            "invited_count": .uint(parameters.invitedCount), "nonce": .hex(parameters.nonce),
        ]
        switch parameters.graph {
        case .complete: (fields["graph"], fields["degree"]) = (.string("complete"), .uint(0))
        case let .harary(degree): (fields["graph"], fields["degree"]) = (.string("harary"), .uint(degree))
        }
        switch parameters.noise {
        case .none: (fields["noise"], fields["noise_numerator"], fields["noise_denominator"]) = (.string("none"), .uint(0), .uint(0))
        case let .distributed(variance):
            (fields["noise"], fields["noise_numerator"], fields["noise_denominator"]) =
                (.string("distributed"), .uint(variance.numerator), .uint(variance.denominator))
        case let .central(variance):
            (fields["noise"], fields["noise_numerator"], fields["noise_denominator"]) =
                (.string("central"), .uint(variance.numerator), .uint(variance.denominator))
        }
        return .object(fields)
    }

    static func describe(_ share: EncryptedShare) -> JSONValue {
        .object(["sender": .uint(share.sender), "recipient": .uint(share.recipient), "ciphertext": .hex(share.ciphertext)])
    }

    /// A Merkle proof (SPEC 4.1.8): its digests in order.
    static func describe(_ proof: DigestList) -> JSONValue {
        .array(proof.map { .hex($0) })
    }

    /// A survivor view (SPEC 4.1.9); statuses as the integers 0 and 1, in increasing ring position.
    static func describe(_ view: SurvivorView) -> JSONValue {
        .object([
            "survivor_count": .uint(view.survivorCount), "survivor_root": .hex(view.survivorRoot),
            "statuses": .uints(view.statuses.map { $0 ? 1 : 0 }), "proof": describe(view.proof),
        ])
    }

    static func describe(_ message: CoordinatorMessage) -> JSONValue {
        switch message {
        case let .advertiseKeysRequest(body):
            return .object(["parameters": describe(body.parameters), "participant": .uint(body.participant)])
        case let .shareKeysRequest(body):
            return .object([
                "round_id": .hex(body.roundID.bytes), "advertised_count": .uint(body.advertisedCount),
                "u1_root": .hex(body.advertisementRoot),
                "advertisements": .array(body.advertisements.map { entry in
                    .object(["index": .uint(entry.index), "identity_key": .hex(entry.identityKey), "encryption_key": .hex(entry.encryptionKey),
                             "masking_key": .hex(entry.maskingKey), "signature": .hex(entry.signature), "endorsement": .hex(entry.endorsement)])
                }),
                "proof": describe(body.proof),
            ])
        case let .maskedInputRequest(body):
            return .object(["round_id": .hex(body.roundID.bytes), "shares": .array(body.shares.map(describe))])
        case let .consistencyCheckRequest(body):
            return .object(["round_id": .hex(body.roundID.bytes), "survivors": describe(body.survivors)])
        case let .unmaskRequest(body):
            return .object(["round_id": .hex(body.roundID.bytes), "survivors": describe(body.survivors),
                            "signatures": .array(body.signatures.map { .object(["index": .uint($0.index), "signature": .hex($0.signature)]) })])
        case let .roundOutcome(body):
            switch body.result {
            case let .completed(count):
                return .object(["round_id": .hex(body.roundID.bytes), "result": .string("completed"), "survivor_count": .uint(count)])
            case let .aborted(code, reason):
                return .object(["round_id": .hex(body.roundID.bytes), "result": .string("aborted"), "code": .uint(code),
                                "reason": .string(reason)])
            }
        }
    }

    static func describe(_ message: ClientMessage) -> JSONValue {
        switch message {
        case let .advertiseKeys(body):
            return .object(["round_id": .hex(body.roundID.bytes), "encryption_key": .hex(body.encryptionKey),
                            "masking_key": .hex(body.maskingKey), "signature": .hex(body.signature)])
        case let .shareKeys(body):
            return .object(["round_id": .hex(body.roundID.bytes), "self_mask_commitment": .hex(body.selfMaskCommitment),
                            "shares": .array(body.shares.map(describe))])
        case let .maskedInput(body):
            return .object(["round_id": .hex(body.roundID.bytes), "vector": .hex(body.vector)])
        case let .consistencyResponse(body):
            return .object(["round_id": .hex(body.roundID.bytes), "signature": .hex(body.signature)])
        case let .unmaskResponse(body):
            return .object(["round_id": .hex(body.roundID.bytes), "shares": .array(body.shares.map { share in
                .object(["owner": .uint(share.owner), "kind": .string(share.kind == .selfMask ? "self_mask" : "masking_key"),
                         "share": .hex(share.share)])
            })])
        case let .abort(body):
            return .object(["round_id": .hex(body.roundID.bytes), "code": .uint(body.code), "reason": .string(body.reason)])
        }
    }

    /// The name of a decoding error as SPEC 3.3 and 9.3 spell it.
    static func wireErrorName(_ error: WireError) -> String {
        switch error {
        case .truncated: return "truncated"
        case .trailingBytes: return "trailingBytes"
        case .lengthExceedsMaximum: return "lengthExceedsMaximum"
        case .invalidValue: return "invalidValue"
        case .unknownMessageType: return "unknownMessageType"
        case .unsupportedVersion: return "unsupportedVersion"
        }
    }
}
