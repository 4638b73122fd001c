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
            + "ignored, SPEC 8.1) or to abort with a code. `step` is the replaced message's step in the transcript; "
            + "`abort_code` is the ClientAbort code the receiving client then sends (516 = 0x0204 coordinatorMisbehaved "
            + "after a rejection, SPEC 8.1), or null.",
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
        let view = SurvivorView(
            survivorCount: 5, survivorRoot: material.bytes(32), statuses: [true, true, false],
            proof: DigestList((0..<2).map { _ in material.bytes(32) }))
        // An UnmaskRequest whose signature list has the given indices (the list is keyed by index, SPEC 4.7).
        func signatures(_ indices: [UInt32]) -> [UInt8] {
            coordinatorBody(0x05) { writer in
                writer.writeFixed(roundID.bytes)
                view.encode(into: &writer)
                writer.write(UInt32(indices.count))
                for index in indices {
                    writer.write(index)
                    writer.writeFixed([UInt8](repeating: 0x11, count: 64))
                }
            }
        }
        // A ConsistencyCheckRequest whose survivor view is written by `build` (SPEC 4.1.9).
        func survivorView(_ build: (inout WireWriter) -> Void) -> [UInt8] {
            coordinatorBody(0x04) { writer in
                writer.writeFixed(roundID.bytes)
                build(&writer)
            }
        }
        let statusTwo = survivorView { writer in
            writer.write(UInt32(5))
            writer.writeFixed(view.survivorRoot)
            writer.writeOpaque([1, 2, 0] as [UInt8], prefixBytes: 2)
            writer.write(UInt32(0))
        }
        let proofAboveMaximum = survivorView { writer in
            writer.write(UInt32(5))
            writer.writeFixed(view.survivorRoot)
            writer.writeOpaque([1] as [UInt8], prefixBytes: 2)
            writer.write(UInt32(1_000_001))
        }
        let proofBeyondInput = survivorView { writer in
            writer.write(UInt32(5))
            writer.writeFixed(view.survivorRoot)
            writer.writeOpaque([1] as [UInt8], prefixBytes: 2)
            writer.write(UInt32(3))
            writer.writeFixed(view.proof[0])
        }
        let statusesBeyondInput = survivorView { writer in
            writer.write(UInt32(5))
            writer.writeFixed(view.survivorRoot)
            writer.write(UInt16(40))
            writer.writeFixed([1, 1, 1] as [UInt8])
        }
        let shortRoot = survivorView { writer in
            writer.write(UInt32(5))
            writer.writeFixed(view.survivorRoot.prefix(31))
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
        // A ShareKeysRequest (SPEC 4.4) with the given advertisements, written by `advertisements`, and an empty proof.
        func shareKeysRequest(_ count: UInt32, _ advertisements: (inout WireWriter) -> Void) -> [UInt8] {
            coordinatorBody(0x02) { writer in
                writer.writeFixed(roundID.bytes)
                writer.write(UInt32(7))
                writer.writeFixed([UInt8](repeating: 0x3c, count: 32))
                writer.write(count)
                advertisements(&writer)
                writer.write(UInt32(0))
            }
        }
        let badEndorsement = shareKeysRequest(1) { writer in
            writer.write(advertisement.index)
            for field in [advertisement.identityKey, advertisement.encryptionKey, advertisement.maskingKey, advertisement.signature] {
                writer.writeFixed(field)
            }
            writer.writeOpaque([UInt8](repeating: 0xab, count: 10), prefixBytes: 1)
        }
        let decreasing = shareKeysRequest(2) { writer in
            var second = advertisement
            second.index = 5
            second.encode(into: &writer)
            advertisement.encode(into: &writer)
        }
        let proofNotWholeDigests = Array(shareKeysRequest(1) { advertisement.encode(into: &$0) }.dropLast(4))
            + [0, 0, 0, 1] + [UInt8](repeating: 0x77, count: 31)
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
        var versionOne = advertise
        versionOne[1] = 1
        var versionOneRequest = invite
        versionOneRequest[1] = 1
        let version = [UInt8(WireLimits.protocolVersion >> 8), UInt8(WireLimits.protocolVersion & 0xff)]
        let cases: [(String, String, [UInt8])] = [
            ("empty-input", "client_to_coordinator", []),
            ("truncated-advertise-keys", "client_to_coordinator", Array(advertise.dropLast())),
            ("trailing-byte-after-advertise-keys", "client_to_coordinator", advertise + [0]),
            ("unsupported-version-1", "client_to_coordinator", versionOne),
            ("unsupported-version-1-from-coordinator", "coordinator_to_client", versionOneRequest),
            ("coordinator-type-sent-to-coordinator", "client_to_coordinator", version + [0x01] + Array(advertise.dropFirst(3))),
            ("unknown-client-type-0x47", "client_to_coordinator", version + [0x47] + Array(advertise.dropFirst(3))),
            ("client-type-sent-to-client", "coordinator_to_client", advertise),
            ("zero-participant-index", "coordinator_to_client", signatures([0, 2, 3])),
            ("repeated-index-in-set", "coordinator_to_client", signatures([1, 3, 3, 4])),
            ("decreasing-index-set", "coordinator_to_client", signatures([4, 3])),
            ("advertisements-not-increasing", "coordinator_to_client", decreasing),
            ("survivor-status-not-0-or-1", "coordinator_to_client", statusTwo),
            ("survivor-proof-count-above-maximum", "coordinator_to_client", proofAboveMaximum),
            ("survivor-proof-count-beyond-input", "coordinator_to_client", proofBeyondInput),
            ("survivor-statuses-beyond-input", "coordinator_to_client", statusesBeyondInput),
            ("survivor-root-of-31-bytes", "coordinator_to_client", shortRoot),
            ("share-keys-request-proof-not-whole-digests", "coordinator_to_client", proofNotWholeDigests),
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
        // A consistency signature over the right survivor count and root but another session id.
        let scenario = try TranscriptVectors.scenario(from: try plan(active))
        guard let signer = scenario.clients.first(where: { $0.index == 2 }),
              case let .consistencyCheckRequest(check)? = activeRun.sentTo[2]?["consistencyCheckRequest"] else {
            throw .disagreement("active transcript")
        }
        let wrongSession = [UInt8](repeating: 0x5a, count: 32)
        var wrongSigned = consistency
        wrongSigned.signature = signer.identity.signature(for: Spec.consistencyInput(
            sessionID: wrongSession, survivorCount: check.survivors.survivorCount,
            survivorRoot: check.survivors.survivorRoot)).rawRepresentation
        add("consistency-signature-wrong-session-id", active, recipient: 0, sender: 2, type: "consistencyResponse",
            ClientMessage.consistencyResponse(wrongSigned).encoded)

        // Client side.
        guard case let .shareKeysRequest(shareRequest)? = base.sentTo[3]?["shareKeysRequest"],
              case let .maskedInputRequest(maskedRequest)? = base.sentTo[2]?["maskedInputRequest"],
              case let .unmaskRequest(hbcUnmask)? = base.sentTo[2]?["unmaskRequest"],
              case let .unmaskRequest(activeUnmask)? = activeRun.sentTo[2]?["unmaskRequest"],
              case let .advertiseKeysRequest(invite)? = base.sentTo[1]?["advertiseKeysRequest"] else {
            throw .disagreement("base transcripts lack the requests negative vectors alter")
        }
        let hbcScenario = try TranscriptVectors.scenario(from: try plan(hbc))
        // A neighbour's advertisement with a bad signature, committed under a root of the coordinator's own (so that the
        // proof holds and the signature check is what fails).
        let forged = try recommitted(scenario: hbcScenario, run: base, recipient: 3) { advertisements in
            advertisements[1].signature[0] ^= 0x80
        }
        add("share-keys-request-bad-neighbour-signature", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(forged).encoded)
        // The recipient's own key replaced, likewise re-committed.
        let replacedOwn = try recommitted(scenario: hbcScenario, run: base, recipient: 3) { advertisements in
            advertisements[2].encryptionKey = advertisements[0].encryptionKey
        }
        add("share-keys-request-own-key-replaced", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(replacedOwn).encoded)
        add("share-keys-request-truncated", hbc, recipient: 3, sender: 0, type: "shareKeysRequest",
            Array(CoordinatorMessage.shareKeysRequest(shareRequest).encoded.dropLast(3)))

        // Version 2 commitments on a sparse graph (SPEC 4.4, 5.13, 8.1): the neighbourhood must open under the U1 root.
        let sparse = "transcript_harary_n64_k6_hbc_dropouts"
        let sparseRun = try baseRun(sparse)
        let sparseScenario = try TranscriptVectors.scenario(from: try plan(sparse))
        let absent: UInt32 = 9
        let sparseGraph = try graph(of: sparseScenario, run: sparseRun)
        guard let neighbourOfAbsent = sparseGraph.neighbours(of: absent).first(where: { index in
                  sparseScenario.clients.first { $0.index == index }?.silentFrom == nil }),
              case let .shareKeysRequest(sparseRequest)? = sparseRun.sentTo[neighbourOfAbsent]?["shareKeysRequest"],
              sparseRequest.proof.count >= 2,
              let present = sparseRequest.advertisements.first(where: { $0.index != neighbourOfAbsent }) else {
            throw .disagreement("the sparse transcript lacks a neighbour of an absent client")
        }
        var flippedProof = sparseRequest
        flippedProof.proof[1] = flippedProof.proof[1].enumerated().map { $0.offset == 0 ? $0.element ^ 0x01 : $0.element }
        add("share-keys-request-proof-digest-flipped", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(flippedProof).encoded)
        var shortProof = sparseRequest
        shortProof.proof = DigestList(sparseRequest.proof.dropLast())
        add("share-keys-request-proof-digest-missing", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(shortProof).encoded)
        var longProof = sparseRequest
        longProof.proof.append(sparseRequest.advertisementRoot)
        add("share-keys-request-proof-digest-extra", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(longProof).encoded)
        // Neighbour 9 never advertised: an advertisement for it is not in the root (its slot holds the absent leaf).
        var fabricated = sparseRequest
        var material = Material("negative/fabricated")
        let invented = KeyAdvertisement(
            index: absent, identityKey: material.bytes(32), encryptionKey: material.bytes(32), maskingKey: material.bytes(32),
            signature: material.bytes(64), endorsement: [])
        fabricated.advertisements.append(invented)
        fabricated.advertisements.sort { $0.index < $1.index }
        add("share-keys-request-absent-neighbour-listed", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(fabricated).encoded)
        // A neighbour in U1 left out of the list: claimed absent, but its slot holds its advertisement.
        var hidden = sparseRequest
        hidden.advertisements.removeAll { $0.index == present.index }
        add("share-keys-request-present-neighbour-claimed-absent", sparse, recipient: neighbourOfAbsent, sender: 0,
            type: "shareKeysRequest", CoordinatorMessage.shareKeysRequest(hidden).encoded)
        // The advertisement of a participant in U1 that is not a neighbour.
        guard let stranger = sparseRun.sentTo.keys.sorted().first(where: { index in
                  index != neighbourOfAbsent && !sparseGraph.neighbours(of: neighbourOfAbsent).contains(index)
                      && sparseRun.sent[index]?["advertiseKeys"] != nil }),
              let strangerAdvertisement = TranscriptVectors.firstSet(scenario: sparseScenario, run: sparseRun)
                  .first(where: { $0.index == stranger }) else {
            throw .disagreement("the sparse transcript has no stranger")
        }
        var withStranger = sparseRequest
        withStranger.advertisements.append(strangerAdvertisement)
        withStranger.advertisements.sort { $0.index < $1.index }
        add("share-keys-request-non-neighbour-listed", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(withStranger).encoded)
        var otherCount = sparseRequest
        otherCount.advertisedCount -= 1
        add("share-keys-request-other-advertised-count", sparse, recipient: neighbourOfAbsent, sender: 0, type: "shareKeysRequest",
            CoordinatorMessage.shareKeysRequest(otherCount).encoded)

        var tamperedShare = maskedRequest
        tamperedShare.shares[0].ciphertext[20] ^= 0x01
        add("masked-input-request-tampered-ciphertext-is-ignored", hbc, recipient: 2, sender: 0, type: "maskedInputRequest",
            CoordinatorMessage.maskedInputRequest(tamperedShare).encoded)
        var misaddressed = maskedRequest
        misaddressed.shares[0].recipient = 5
        add("masked-input-request-misaddressed-share", hbc, recipient: 2, sender: 0, type: "maskedInputRequest",
            CoordinatorMessage.maskedInputRequest(misaddressed).encoded)

        // Survivor views (SPEC 4.1.9, 8.1). The recipient marked absent under a root of the coordinator's own.
        var withoutSelf = hbcUnmask
        withoutSelf.survivors = try view(for: 2, excluding: [2], scenario: hbcScenario, run: base)
        add("unmask-request-omits-recipient", hbc, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(withoutSelf).encoded)
        // A neighbour's status flipped under the genuine root and proof (honest-but-curious, sparse graph).
        guard let viewRecipient = sparseGraph.neighbours(of: 50).first(where: { index in
                  sparseScenario.clients.first { $0.index == index }?.silentFrom == nil }),
              case let .unmaskRequest(sparseUnmask)? = sparseRun.sentTo[viewRecipient]?["unmaskRequest"] else {
            throw .disagreement("the sparse transcript lacks an unmask request to a neighbour of 50")
        }
        var flippedStatus = sparseUnmask
        let dropped = try statusSlot(of: 50, in: viewRecipient, graph: sparseGraph)
        flippedStatus.survivors.statuses[dropped].toggle()
        add("unmask-request-status-flipped", sparse, recipient: viewRecipient, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(flippedStatus).encoded)
        var flippedDigest = sparseUnmask
        flippedDigest.survivors.proof[0] = flippedDigest.survivors.proof[0].map { $0 ^ 0xff }
        add("unmask-request-survivor-proof-digest-flipped", sparse, recipient: viewRecipient, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(flippedDigest).encoded)
        // Active mode: a neighbour's status flipped in the view to sign.
        let activeScenario = scenario
        let activeGraph = try graph(of: activeScenario, run: activeRun)
        guard let activeNeighbour = activeGraph.neighbours(of: 2).first else { throw .disagreement("active graph") }
        var flippedCheck = check
        flippedCheck.survivors.statuses[try statusSlot(of: activeNeighbour, in: 2, graph: activeGraph)].toggle()
        add("consistency-check-request-status-flipped", active, recipient: 2, sender: 0, type: "consistencyCheckRequest",
            CoordinatorMessage.consistencyCheckRequest(flippedCheck).encoded)
        // Active mode: an unmask view that is valid under its own root, but not the root the client signed.
        guard let nonNeighbour = activeScenario.clients.map(\.index).first(where: { index in
                  index != 2 && !activeGraph.neighbours(of: 2).contains(index) }) else {
            throw .disagreement("active transcript has no non-neighbour of 2")
        }
        var otherSet = activeUnmask
        otherSet.survivors = try view(for: 2, excluding: [nonNeighbour], scenario: activeScenario, run: activeRun)
        add("unmask-request-differs-from-signed-set", active, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(otherSet).encoded)
        var otherRoot = activeUnmask
        otherRoot.survivors.survivorRoot[0] ^= 0x01
        add("unmask-request-survivor-root-differs-from-signed", active, recipient: 2, sender: 0, type: "unmaskRequest",
            CoordinatorMessage.unmaskRequest(otherRoot).encoded)
        var badConsistency = activeUnmask
        if !badConsistency.signatures.isEmpty { badConsistency.signatures[0].signature[9] ^= 0x04 }
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

    // MARK: Alternative commitments, built from the spec's formulas

    /// The graph of a transcript's round (SPEC 7), from U1 as the run shows it.
    private static func graph(of scenario: TranscriptVectors.Scenario, run: TranscriptVectors.Run) throws(VectorError) -> Spec.Graph {
        let parameters = scenario.parameters
        let session = sessionID(parameters: parameters, firstSet: TranscriptVectors.firstSet(scenario: scenario, run: run)).session
        var degree: Int?
        if case let .harary(k) = parameters.graph { degree = Int(k) }
        return try Spec.Graph(invitedCount: Int(parameters.invitedCount), degree: degree, seed: Spec.graphSeed(sessionID: session))
    }

    /// The advertisement tree and session id over `firstSet` (SPEC 5.13, 5.3).
    private static func sessionID(
        parameters: RoundParameters, firstSet: [KeyAdvertisement]
    ) -> (session: [UInt8], tree: Spec.Merkle) {
        var byIndex: [UInt32: Spec.Advertisement] = [:]
        for entry in firstSet {
            byIndex[entry.index] = Spec.Advertisement(
                index: entry.index, identityKey: entry.identityKey, encryptionKey: entry.encryptionKey,
                maskingKey: entry.maskingKey, signature: entry.signature)
        }
        let tree = Spec.Merkle(leaves: (1...parameters.invitedCount).map { Spec.advertisementLeaf(index: $0, byIndex[$0]) })
        let digest = Spec.hash("secagg/v2/round", parameters.encoded)
        return (Spec.sessionID(roundDigest: digest, advertisedCount: UInt32(firstSet.count), u1Root: tree.root), tree)
    }

    /// A ShareKeysRequest for `recipient` that commits, with a root of its own, to U1 changed by `change` (which sees
    /// U1's advertisements by increasing index): the proof holds, so what the client then checks is the content.
    private static func recommitted(
        scenario: TranscriptVectors.Scenario, run: TranscriptVectors.Run, recipient: UInt32,
        _ change: (inout [KeyAdvertisement]) -> Void
    ) throws(VectorError) -> ShareKeysRequest {
        let parameters = scenario.parameters
        var firstSet = TranscriptVectors.firstSet(scenario: scenario, run: run)
        change(&firstSet)
        let (session, tree) = sessionID(parameters: parameters, firstSet: firstSet)
        var degree: Int?
        if case let .harary(k) = parameters.graph { degree = Int(k) }
        let graph = try Spec.Graph(
            invitedCount: Int(parameters.invitedCount), degree: degree, seed: Spec.graphSeed(sessionID: session))
        let proven = ([recipient] + graph.neighbours(of: recipient)).sorted()
        return ShareKeysRequest(
            roundID: parameters.roundID, advertisedCount: UInt32(firstSet.count), advertisementRoot: tree.root,
            advertisements: firstSet.filter { proven.contains($0.index) },
            proof: DigestList(tree.proof(proven.map { Int($0) - 1 })))
    }

    /// The survivor view of `recipient` for the transcript's U3 without `excluded`, under that set's own root.
    private static func view(
        for recipient: UInt32, excluding excluded: Set<UInt32>, scenario: TranscriptVectors.Scenario,
        run: TranscriptVectors.Run
    ) throws(VectorError) -> SurvivorView {
        let graph = try graph(of: scenario, run: run)
        let survivors = Set(scenario.clients.map(\.index).filter { run.sent[$0]?["maskedInput"] != nil }).subtracting(excluded)
        let tree = Spec.Merkle(leaves: graph.ring.map { Spec.survivorLeaf(participant: $0, survived: survivors.contains($0)) })
        let positions = graph.viewPositions(of: recipient)
        return SurvivorView(
            survivorCount: UInt32(survivors.count), survivorRoot: tree.root,
            statuses: positions.map { survivors.contains(graph.ring[$0]) }, proof: DigestList(tree.proof(positions)))
    }

    /// Which entry of `recipient`'s survivor statuses is `participant`'s (views list ring positions increasing).
    private static func statusSlot(of participant: UInt32, in recipient: UInt32, graph: Spec.Graph) throws(VectorError) -> Int {
        guard let slot = graph.viewPositions(of: recipient).firstIndex(of: graph.position[Int(participant) - 1]) else {
            throw .disagreement("\(participant) is not in the view of \(recipient)")
        }
        return slot
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
            out["step"] = run.tamperStep.map { .uint($0) } ?? .null
            out["abort_code"] = run.tamperAbort.map { .uint($0) } ?? .null
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
