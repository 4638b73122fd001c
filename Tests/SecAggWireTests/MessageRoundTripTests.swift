import Testing
import SecAggWire

@Suite("Message round trips")
struct MessageRoundTripTests {
    // Every coordinator message decodes to an equal value, and re-encoding gives the same bytes (one encoding per value).
    @Test(arguments: sampleCoordinatorMessages)
    func coordinatorMessage(_ message: CoordinatorMessage) throws {
        let bytes = message.encoded
        let decoded = try CoordinatorMessage(decoding: bytes)
        #expect(decoded == message)
        #expect(decoded.encoded == bytes)
        #expect(decoded.roundID == sampleRoundID)
        #expect(Array(bytes.prefix(3)) == [0x00, 0x02, message.typeCode])
        // The measuring pass counts exactly what the writing pass writes (`encoded` sizes its array by it).
        #expect(message.encodedCount == bytes.count)
    }

    // Every client message decodes to an equal value, and re-encoding gives the same bytes.
    @Test(arguments: sampleClientMessages)
    func clientMessage(_ message: ClientMessage) throws {
        let bytes = message.encoded
        let decoded = try ClientMessage(decoding: bytes)
        #expect(decoded == message)
        #expect(decoded.encoded == bytes)
        #expect(decoded.roundID == sampleRoundID)
        #expect(Array(bytes.prefix(3)) == [0x00, 0x02, message.typeCode])
        #expect(message.encodedCount == bytes.count)
    }

    // The samples cover every case of both enums, each with its own type byte (0x01…0x06 and 0x41…0x46).
    @Test func samplesCoverEveryCase() {
        #expect(Set(sampleCoordinatorMessages.map(\.typeCode)) == Set(0x01...0x06))
        #expect(Set(sampleClientMessages.map(\.typeCode)) == Set(0x41...0x46))
    }

    // Empty lists and empty opaque fields round-trip too (they are legal on the wire; the protocol layer judges them).
    @Test func emptyCollections() throws {
        let coordinator: [CoordinatorMessage] = [
            .shareKeysRequest(ShareKeysRequest(
                roundID: sampleRoundID, advertisedCount: 0, advertisementRoot: ramp(32, from: 0), advertisements: [], proof: [])),
            .maskedInputRequest(MaskedInputRequest(roundID: sampleRoundID, shares: [])),
            .consistencyCheckRequest(ConsistencyCheckRequest(roundID: sampleRoundID, survivors: emptyView)),
            .unmaskRequest(UnmaskRequest(roundID: sampleRoundID, survivors: emptyView, signatures: [])),
            .roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .aborted(code: 0, reason: ""))),
        ]
        for message in coordinator { #expect(try CoordinatorMessage(decoding: message.encoded) == message) }
        let client: [ClientMessage] = [
            .shareKeys(ShareKeys(roundID: sampleRoundID, selfMaskCommitment: ramp(32, from: 1), shares: [])),
            .maskedInput(MaskedInput(roundID: sampleRoundID, vector: [])),
            .unmaskResponse(UnmaskResponse(roundID: sampleRoundID, shares: [])),
            .abort(ClientAbort(roundID: sampleRoundID, code: 0xffff, reason: "")),
        ]
        for message in client { #expect(try ClientMessage(decoding: message.encoded) == message) }
    }

    // Each building block round-trips on its own, including the bounds of its variable-length fields.
    @Test func components() throws {
        let parameters = sampleParameters()
        #expect(try RoundParameters(decoding: parameters.encoded) == parameters)
        var complete = parameters
        complete.graph = .complete
        complete.mode = .honestButCurious
        complete.taskName = String(repeating: "ß", count: 127)  // 254 UTF-8 bytes
        #expect(try RoundParameters(decoding: complete.encoded) == complete)
        #expect(try RoundID(decoding: sampleRoundID.encoded) == sampleRoundID)
        for endorsed in [false, true] {
            let advertisement = sampleAdvertisement(index: 0xffff_ffff, endorsed: endorsed)
            #expect(try KeyAdvertisement(decoding: advertisement.encoded) == advertisement)
        }
        let share = sampleShare(sender: 1, recipient: 0xffff_ffff, length: 1024)
        #expect(try EncryptedShare(decoding: share.encoded) == share)
        let bundle = ShareBundle(owner: 9, holder: 2, selfMaskShare: ramp(512, from: 3), maskingKeyShare: ramp(40, from: 9))
        #expect(try ShareBundle(decoding: bundle.encoded) == bundle)
        for kind in [ShareKind.selfMask, .maskingKey] {
            let revealed = RevealedShare(owner: 77, kind: kind, share: ramp(40, from: 0x55))
            #expect(try RevealedShare(decoding: revealed.encoded) == revealed)
        }
        let signature = ConsistencySignature(index: 3, signature: ramp(64, from: 0xee))
        #expect(try ConsistencySignature(decoding: signature.encoded) == signature)
    }

    // Both round modes and graph shapes survive the AdvertiseKeysRequest envelope.
    @Test(arguments: [RoundMode.honestButCurious, .active], [GraphShape.complete, .harary(degree: 1), .harary(degree: .max)])
    func parameterVariants(mode: RoundMode, graph: GraphShape) throws {
        var parameters = sampleParameters()
        parameters.mode = mode
        parameters.graph = graph
        let message = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 1))
        #expect(try CoordinatorMessage(decoding: message.encoded) == message)
    }

    // An abort reason longer than the 1024-byte limit is cut to its first 1024 bytes on the wire.
    @Test func longASCIIReasonIsTruncated() throws {
        let reason = String(repeating: "x", count: 1500)
        let message = ClientMessage.abort(ClientAbort(roundID: sampleRoundID, code: 1, reason: reason))
        let decoded = try ClientMessage(decoding: message.encoded)
        guard case let .abort(abort) = decoded else { Issue.record("decoded \(decoded)"); return }
        #expect(abort.reason == String(repeating: "x", count: 1024))
    }

    // Whatever reason string the caller passes, the encoder's output must decode: the 1024-byte cut may not split a
    // UTF-8 character (1023 ASCII bytes followed by "é" must not leave a lone 0xC3 byte on the wire).
    @Test(arguments: [1023, 1022, 1021, 1020])
    func longUnicodeReasonStillDecodes(asciiPrefix: Int) throws {
        let reason = String(repeating: "a", count: asciiPrefix) + "é€😀"
        let outcome = CoordinatorMessage.roundOutcome(
            RoundOutcome(roundID: sampleRoundID, result: .aborted(code: 0x0201, reason: reason)))
        let abort = ClientMessage.abort(ClientAbort(roundID: sampleRoundID, code: 0x0201, reason: reason))

        let decodedOutcome = try CoordinatorMessage(decoding: outcome.encoded)
        if case let .roundOutcome(decoded) = decodedOutcome, case let .aborted(_, text) = decoded.result {
            #expect(text.utf8.count <= 1024)
            #expect(reason.hasPrefix(text))
        } else {
            Issue.record("decoded \(decodedOutcome)")
        }
        let decodedAbort = try ClientMessage(decoding: abort.encoded)
        if case let .abort(message) = decodedAbort {
            #expect(message.reason.utf8.count <= 1024)
            #expect(reason.hasPrefix(message.reason))
        } else {
            Issue.record("decoded \(decodedAbort)")
        }
    }
}
