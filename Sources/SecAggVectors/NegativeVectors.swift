import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// Inputs that MUST be rejected, each at a named step with a named error (SPEC 3.3, 8, 9).
enum NegativeVectors {
    static let negative = VectorFileKind(
        name: "negative.json",
        description: "Inputs that MUST be rejected. `decode`: `bytes` given to the decoder of `direction` fails with "
            + "`error` (SPEC 3.3). `deliver`: the transcript named by `transcript` is replayed from its inputs until the "
            + "first message of `type` from `sender` to `recipient` (0 is the coordinator), which is replaced by `bytes`; "
            + "the receiving state machine MUST end as `outcome` says: `rejected: <violation>` (SPEC 9.2; the state is "
            + "unchanged) or `accepted: <actions>` when the rule is to carry on (a share bundle that fails to open is "
            + "ignored, SPEC 8.1) or to abort with a code.",
        inputs: negativeInputs, compute: computeNegative)

    // MARK: Decoding

    private static func decodeCases() throws(VectorError) -> [JSONValue] {
        var material = Material("negative")
        let parameters = MessageVectors.sampleParameters(graph: .harary(degree: 4), mode: .honestButCurious)
        let roundID = parameters.roundID
        let advertise = ClientMessage.advertiseKeys(AdvertiseKeys(
            roundID: roundID, encryptionKey: material.bytes(32), maskingKey: material.bytes(32), signature: material.bytes(64))).encoded
        func coordinatorBody(_ type: UInt8, _ build: (inout WireWriter) -> Void) -> [UInt8] {
            var writer = WireWriter()
            writer.write(WireLimits.protocolVersion)
            writer.write(type)
            build(&writer)
            return writer.bytes
        }
        func survivors(_ indices: [UInt32]) -> [UInt8] {
            coordinatorBody(0x04) { writer in
                writer.writeFixed(roundID.bytes)
                writer.write(UInt32(indices.count))
                for index in indices { writer.write(index) }
            }
        }
        let invite = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 3)).encoded
        // Offset of the graph kind: envelope 3, round id 16, name 1 + 7, dimension 4, bits 1, maximum 8.
        let graphOffset = 3 + 16 + 1 + parameters.taskName.utf8.count + 4 + 1 + 8
        var unknownGraph = invite
        unknownGraph[graphOffset] = 2
        var completeWithDegree = invite
        completeWithDegree[graphOffset] = 0
        let advertisement = KeyAdvertisement(
            index: 1, identityKey: material.bytes(32), encryptionKey: material.bytes(32), maskingKey: material.bytes(32),
            signature: material.bytes(64), endorsement: [])
        var badEndorsement = coordinatorBody(0x02) { writer in
            writer.writeFixed(roundID.bytes)
            writer.write(UInt32(1))
            advertisement.encode(into: &writer)
        }
        badEndorsement.removeLast()  // the empty endorsement's length byte
        badEndorsement += [10] + [UInt8](repeating: 0xab, count: 10)
        let decreasing = coordinatorBody(0x02) { writer in
            writer.writeFixed(roundID.bytes)
            writer.write(UInt32(2))
            var second = advertisement
            second.index = 5
            second.encode(into: &writer)
            advertisement.encode(into: &writer)
        }
        func clientBody(_ type: UInt8, _ build: (inout WireWriter) -> Void) -> [UInt8] {
            var writer = WireWriter()
            writer.write(WireLimits.protocolVersion)
            writer.write(type)
            writer.writeFixed(roundID.bytes)
            build(&writer)
            return writer.bytes
        }
        let tooManyShares = clientBody(0x45) { $0.write(UInt32(1_000_001)) }
        let countBeyondInput = clientBody(0x45) { $0.write(UInt32(5)) }
        let unknownKind = clientBody(0x45) { writer in
            writer.write(UInt32(1))
            writer.write(UInt32(2))
            writer.write(UInt8(2))
            writer.writeOpaque([UInt8](repeating: 0, count: 40), prefixBytes: 2)
        }
        let longCiphertext = clientBody(0x42) { writer in
            writer.writeFixed([UInt8](repeating: 7, count: 32))
            writer.write(UInt32(1))
            writer.write(UInt32(3))
            writer.write(UInt32(4))
            writer.write(UInt16(1025))
            writer.writeFixed([UInt8](repeating: 0, count: 1025))
        }
        let unknownOutcome = coordinatorBody(0x06) { writer in
            writer.writeFixed(roundID.bytes)
            writer.write(UInt8(2))
            writer.write(UInt32(4))
        }
        let badUTF8 = clientBody(0x46) { writer in
            writer.write(UInt16(0x0206))
            writer.writeOpaque([0x66, 0xc3, 0x28], prefixBytes: 2)
        }
        var badJoin = JoinRequest(taskName: "ok").encoded
        badJoin[badJoin.count - 1] = 0xff
        var wrongVersion = advertise
        wrongVersion[1] = 2
        let cases: [(String, String, [UInt8])] = [
            ("empty-input", "client_to_coordinator", []),
            ("truncated-advertise-keys", "client_to_coordinator", Array(advertise.dropLast())),
            ("trailing-byte-after-advertise-keys", "client_to_coordinator", advertise + [0]),
            ("unsupported-version-2", "client_to_coordinator", wrongVersion),
            ("coordinator-type-sent-to-coordinator", "client_to_coordinator", [0x00, 0x01, 0x01] + Array(advertise.dropFirst(3))),
            ("unknown-client-type-0x47", "client_to_coordinator", [0x00, 0x01, 0x47] + Array(advertise.dropFirst(3))),
            ("client-type-sent-to-client", "coordinator_to_client", advertise),
            ("zero-participant-index", "coordinator_to_client", survivors([0, 2, 3])),
            ("repeated-index-in-set", "coordinator_to_client", survivors([1, 3, 3, 4])),
            ("decreasing-index-set", "coordinator_to_client", survivors([4, 3])),
            ("advertisements-not-increasing", "coordinator_to_client", decreasing),
            ("endorsement-of-10-bytes", "coordinator_to_client", badEndorsement),
            ("unknown-graph-kind", "coordinator_to_client", unknownGraph),
            ("complete-graph-with-nonzero-degree", "coordinator_to_client", completeWithDegree),
            ("unknown-outcome-kind", "coordinator_to_client", unknownOutcome),
            ("share-list-count-above-maximum", "client_to_coordinator", tooManyShares),
            ("share-list-count-beyond-input", "client_to_coordinator", countBeyondInput),
            ("unknown-share-kind", "client_to_coordinator", unknownKind),
            ("ciphertext-longer-than-1024", "client_to_coordinator", longCiphertext),
            ("abort-reason-not-utf8", "client_to_coordinator", badUTF8),
            ("join-request-task-name-not-utf8", "join_request", badJoin),
        ]
        return cases.map { name, direction, bytes in
            .object(["name": .string(name), "operation": .string("decode"), "direction": .string(direction), "bytes": .hex(bytes)])
        }
    }

    private static func decodeError(direction: String, bytes: [UInt8]) throws(VectorError) -> String {
        do {
            switch direction {
            case "client_to_coordinator": _ = try ClientMessage(decoding: bytes)
            case "coordinator_to_client": _ = try CoordinatorMessage(decoding: bytes)
            case "join_request": _ = try JoinRequest(decoding: bytes)
            case "join_response": _ = try JoinResponse(decoding: bytes)
            default: throw VectorError.badField("direction", "unknown direction \(direction)")
            }
            return "none"
        } catch let error as WireError {
            return MessageVectors.wireErrorName(error)
        } catch let error as VectorError {
            throw error
        } catch {
            return "\(error)"
        }
    }

    // MARK: Delivering a bad message inside a round

    private static func deliverCases() throws(VectorError) -> [JSONValue] {
        var cases: [JSONValue] = []
        func add(_ name: String, _ transcript: String, recipient: UInt32, sender: UInt32, type: String, _ bytes: [UInt8]) {
            cases.append(.object([
                "name": .string(name), "operation": .string("deliver"), "transcript": .string(transcript),
                "recipient": .uint(recipient), "sender": .uint(sender), "type": .string(type), "bytes": .hex(bytes),
            ]))
        }
        let hbc = "transcript_complete_hbc"
        let active = "transcript_harary_odd_active"
        let base = try baseRun(hbc)
        let activeRun = try baseRun(active)

        // Coordinator side.
        guard case let .advertiseKeys(advertise)? = base.sent[2]?["advertiseKeys"],
              case let .shareKeys(shareKeys)? = base.sent[1]?["shareKeys"],
              case let .maskedInput(masked)? = base.sent[3]?["maskedInput"],
              case let .unmaskResponse(unmask)? = base.sent[1]?["unmaskResponse"],
              case let .consistencyResponse(consistency)? = activeRun.sent[2]?["consistencyResponse"] else {
            throw .disagreement("base transcripts lack the messages negative vectors alter")
        }
        var badSignature = advertise
        badSignature.signature[5] ^= 0x01
        add("advertise-keys-bad-signature", hbc, recipient: 0, sender: 2, type: "advertiseKeys", ClientMessage.advertiseKeys(badSignature).encoded)
        var otherRound = advertise
        var roundBytes = advertise.roundID.bytes
        roundBytes[0] ^= 0xff
        if let roundID = RoundID(bytes: roundBytes) { otherRound.roundID = roundID }
        add("advertise-keys-wrong-round", hbc, recipient: 0, sender: 2, type: "advertiseKeys", ClientMessage.advertiseKeys(otherRound).encoded)
        var sameKeys = advertise
        sameKeys.maskingKey = sameKeys.encryptionKey
        add("advertise-keys-equal-keys", hbc, recipient: 0, sender: 2, type: "advertiseKeys", ClientMessage.advertiseKeys(sameKeys).encoded)
        add("masked-input-during-advertise", hbc, recipient: 0, sender: 2, type: "advertiseKeys", ClientMessage.maskedInput(masked).encoded)
        var shortCiphertext = shareKeys
        shortCiphertext.shares[0].ciphertext.removeLast()
        add("share-keys-ciphertext-107-bytes", hbc, recipient: 0, sender: 1, type: "shareKeys", ClientMessage.shareKeys(shortCiphertext).encoded)
        var missingRecipient = shareKeys
        missingRecipient.shares.removeLast()
        add("share-keys-missing-recipient", hbc, recipient: 0, sender: 1, type: "shareKeys", ClientMessage.shareKeys(missingRecipient).encoded)
        var shortVector = masked
        shortVector.vector.removeLast(2)
        add("masked-input-wrong-length", hbc, recipient: 0, sender: 3, type: "maskedInput", ClientMessage.maskedInput(shortVector).encoded)
        var wideLane = masked
        wideLane.vector[2] = 0x01  // lane 0 of a bits = 16 round becomes >= 2^16
        add("masked-input-lane-out-of-range", hbc, recipient: 0, sender: 3, type: "maskedInput", ClientMessage.maskedInput(wideLane).encoded)
        var wrongKind = unmask
        wrongKind.shares[0].kind = .maskingKey
        add("unmask-response-wrong-kind", hbc, recipient: 0, sender: 1, type: "unmaskResponse", ClientMessage.unmaskResponse(wrongKind).encoded)
        var offField = unmask
        offField.shares[0].share = [UInt8](repeating: 0xff, count: 8) + Array(offField.shares[0].share.dropFirst(8))
        add("unmask-response-element-not-below-p", hbc, recipient: 0, sender: 1, type: "unmaskResponse",
            ClientMessage.unmaskResponse(offField).encoded)
        var ownShare = unmask
        ownShare.shares[0].owner = 1
        add("unmask-response-share-of-itself", hbc, recipient: 0, sender: 1, type: "unmaskResponse",
            ClientMessage.unmaskResponse(ownShare).encoded)
        // A consistency signature over the right survivors but another session id.
        let scenario = try TranscriptVectors.scenario(from: try plan(active))
        guard let signer = scenario.clients.first(where: { $0.index == 2 }),
              case let .consistencyCheckRequest(check)? = activeRun.received[2]?["consistencyCheckRequest"] else {
            throw .disagreement("active transcript")
        }
        let wrongSession = [UInt8](repeating: 0x5a, count: 32)
        var wrongSigned = consistency
        wrongSigned.signature = signer.identity.signature(
            for: Derivation.consistencyMessage(sessionID: wrongSession, survivors: check.survivors)).rawRepresentation
        add("consistency-signature-wrong-session-id", active, recipient: 0, sender: 2, type: "consistencyResponse",
            ClientMessage.consistencyResponse(wrongSigned).encoded)

        // Client side.
        guard case let .shareKeysRequest(shareRequest)? = base.received[3]?["shareKeysRequest"],
              case let .maskedInputRequest(maskedRequest)? = base.received[2]?["maskedInputRequest"],
              case let .unmaskRequest(hbcUnmask)? = base.received[2]?["unmaskRequest"],
              case let .unmaskRequest(activeUnmask)? = activeRun.received[2]?["unmaskRequest"],
              case let .advertiseKeysRequest(invite)? = base.received[1]?["advertiseKeysRequest"] else {
            throw .disagreement("base transcripts lack the requests negative vectors alter")
        }
        var forged = shareRequest
        forged.advertisements[1].signature[0] ^= 0x80
        add("share-keys-request-bad-neighbour-signature", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(forged).encoded)
        var replacedOwn = shareRequest
        replacedOwn.advertisements[2].encryptionKey = replacedOwn.advertisements[0].encryptionKey
        add("share-keys-request-own-key-replaced", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(replacedOwn).encoded)
        add("share-keys-request-truncated", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            Array(CoordinatorMessage.shareKeysRequest(shareRequest).encoded.dropLast(3)))
        var tamperedShare = maskedRequest
        tamperedShare.shares[0].ciphertext[20] ^= 0x01
        add("masked-input-request-tampered-ciphertext-is-ignored", hbc, recipient: 2, sender: 0, type: "maskedInputRequest",
            CoordinatorMessage.maskedInputRequest(tamperedShare).encoded)
        var misaddressed = maskedRequest
        misaddressed.shares[0].recipient = 5
        add("masked-input-request-misaddressed-share", hbc, recipient: 2, sender: 0, type: "maskedInputRequest",
            CoordinatorMessage.maskedInputRequest(misaddressed).encoded)
        var withoutSelf = hbcUnmask
        withoutSelf.survivors.removeAll { $0 == 2 }
        add("unmask-request-omits-recipient", hbc, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(withoutSelf).encoded)
        var otherSet = activeUnmask
        otherSet.survivors.removeLast()
        add("unmask-request-differs-from-signed-set", active, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(otherSet).encoded)
        var badConsistency = activeUnmask
        guard case let .shareKeys(ownShares)? = activeRun.sent[2]?["shareKeys"] else { throw .disagreement("active transcript") }
        let neighbours = Set(ownShares.shares.map(\.recipient))
        if let position = badConsistency.signatures.firstIndex(where: { neighbours.contains($0.index) }) {
            badConsistency.signatures[position].signature[9] ^= 0x04
        }
        add("unmask-request-bad-consistency-signature", active, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(badConsistency).encoded)
        var fewSignatures = activeUnmask
        fewSignatures.signatures = Array(fewSignatures.signatures.prefix(1))
        add("unmask-request-too-few-consistency-signatures", active, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(fewSignatures).encoded)
        var overflowing = invite
        overflowing.parameters.maximumInput = UInt64(1) << 15
        add("advertise-keys-request-sum-may-overflow", hbc, recipient: 1, sender: 0, type: "advertiseKeysRequest",
            CoordinatorMessage.advertiseKeysRequest(overflowing).encoded)
        return cases
    }

    private static func plan(_ transcript: String) throws(VectorError) -> JSONValue {
        guard let plan = TranscriptVectors.plans.first(where: { $0.file == transcript + ".json" }) else {
            throw .badField("transcript", "unknown transcript \(transcript)")
        }
        return try TranscriptVectors.inputs(of: plan)
    }

    private static func baseRun(_ transcript: String) throws(VectorError) -> TranscriptVectors.Run {
        try TranscriptVectors.run(try TranscriptVectors.scenario(from: try plan(transcript)))
    }

    private static func negativeInputs() throws(VectorError) -> [JSONValue] {
        try decodeCases() + deliverCases()
    }

    private static func computeNegative(_ input: JSONValue) throws(VectorError) -> JSONValue {
        let operation = try input.string("operation")
        var out: [String: JSONValue] = ["name": try input.member("name"), "operation": .string(operation)]
        let bytes = try input.bytes("bytes")
        out["bytes"] = .hex(bytes)
        switch operation {
        case "decode":
            let direction = try input.string("direction")
            out["direction"] = .string(direction)
            out["error"] = .string(try decodeError(direction: direction, bytes: bytes))
        case "deliver":
            let transcript = try input.string("transcript")
            let tamper = TranscriptVectors.Tamper(
                recipient: try input.uint32("recipient"), sender: try input.uint32("sender"), type: try input.string("type"),
                bytes: bytes)
            for field in ["transcript", "recipient", "sender", "type"] { out[field] = try input.member(field) }
            let run = try TranscriptVectors.run(try TranscriptVectors.scenario(from: try plan(transcript)), tamper: tamper)
            switch run.tamperOutcome {
            case let .rejected(violation)?: out["outcome"] = .string("rejected: " + violation)
            case let .accepted(actions)?: out["outcome"] = .string("accepted: " + actions.joined(separator: ", "))
            case nil: out["outcome"] = .string("not delivered")
            }
        default:
            throw .badField("operation", "unknown operation \(operation)")
        }
        return .object(out)
    }
}
