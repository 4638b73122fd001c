import Testing
import SecAggWire

// Byte-exact encodings, annotated field by field. Any change to field order, width, prefix size or endianness
// breaks one of these; such a change is a protocol version change, not a refactoring.
@Suite("Known-answer encodings")
struct KnownAnswerTests {
    static let roundIDHex = "000102030405060708090a0b0c0d0e0f"

    static let parametersHex = """
        000102030405060708090a0b0c0d0e0f  # roundID (16 bytes)
        03 73756d                         # taskName: u8 length 3, "sum"
        000003e8                          # dimension 1000 (u32)
        20                                # bits 32 (u8)
        00000000000f4240                  # maximumInput 1,000,000 (u64)
        01 00000004                       # graph: code 1 = Harary, degree 4 (u32)
        00000003                          # threshold 3
        00000005                          # minimumSurvivors 5
        01                                # mode 1 = active
        0000000a                          # invitedCount 10
        a0a1a2a3a4a5a6a7a8a9aaabacadaeaf  # nonce (32 bytes)
        b0b1b2b3b4b5b6b7b8b9babbbcbdbebf
        00                                # noise: code 0 = none
        0000000000000000 0000000000000000 # variance 0/0 (u64, u64)
        """

    /// Strips `#` comments, then parses the hex.
    static func annotated(_ text: String) -> [UInt8] {
        hex(text.split(separator: "\n").map { line in
            line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }.joined(separator: "\n"))
    }

    // RoundParameters: every field in order, big-endian, 100 bytes for a 3-byte task name.
    @Test func roundParameters() throws {
        let expected = Self.annotated(Self.parametersHex)
        #expect(expected.count == 100)
        #expect(sampleParameters().encoded == expected)
        #expect(try RoundParameters(decoding: expected) == sampleParameters())
    }

    // Distributed noise is code 1 with the per-client variance as numerator and denominator; central is code 2.
    @Test func noiseParameters() throws {
        var parameters = sampleParameters()
        parameters.noise = .distributed(localVariance: NoiseVariance(numerator: 9, denominator: 4))
        #expect(Array(parameters.encoded.suffix(17)) == hex("01 0000000000000009 0000000000000004"))
        #expect(try RoundParameters(decoding: parameters.encoded) == parameters)
        parameters.noise = .central(variance: NoiseVariance(numerator: 100, denominator: 1))
        #expect(Array(parameters.encoded.suffix(17)) == hex("02 0000000000000064 0000000000000001"))
        // Without noise the variance must be 0/0, and unknown codes are refused.
        var bytes = sampleParameters().encoded
        bytes[bytes.count - 1] = 1
        #expect(throws: WireError.self) { try RoundParameters(decoding: bytes) }
        bytes = sampleParameters().encoded
        bytes[bytes.count - 17] = 3
        #expect(throws: WireError.self) { try RoundParameters(decoding: bytes) }
    }

    // A complete graph is code 0 with a zero degree; honest-but-curious is mode 0.
    @Test func completeGraphParameters() {
        var parameters = sampleParameters()
        parameters.graph = .complete
        parameters.mode = .honestButCurious
        let bytes = parameters.encoded
        #expect(Array(bytes[33...37]) == hex("00 00000000"))
        #expect(bytes[46] == 0x00)
    }

    // AdvertiseKeysRequest (0x01): envelope, the parameters, then the participant index.
    @Test func advertiseKeysRequest() throws {
        let expected = Self.annotated("""
            0002 01        # version 2, type 0x01
            \(Self.parametersHex)
            00000007       # participant 7
            """)
        let message = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: sampleParameters(), participant: 7))
        #expect(message.encoded == expected)
        #expect(try CoordinatorMessage(decoding: expected) == message)
    }

    // ConsistencyCheckRequest (0x04): envelope, round id, then the survivor view: u32 count, 32-byte root,
    // u32-prefixed statuses (one byte each), u32-counted list of 32-byte proof digests.
    @Test func consistencyCheckRequest() throws {
        let expected = Self.annotated("""
            0002 04                           # version 2, type 0x04
            000102030405060708090a0b0c0d0e0f  # roundID
            00000007                          # |U3| = 7
            \(String(repeating: "ab", count: 32))  # survivor root
            00000003 01 00 01                 # 3 statuses: in, out, in
            00000001                          # 1 proof digest
            \(String(repeating: "cd", count: 32))
            """)
        let view = SurvivorView(
            survivorCount: 7, survivorRoot: [UInt8](repeating: 0xab, count: 32), statuses: [true, false, true],
            proof: [[UInt8](repeating: 0xcd, count: 32)])
        let message = CoordinatorMessage.consistencyCheckRequest(ConsistencyCheckRequest(roundID: sampleRoundID, survivors: view))
        #expect(message.encoded == expected)
        #expect(try CoordinatorMessage(decoding: expected) == message)
    }

    // A status byte other than 0 or 1 is refused.
    @Test func survivorStatusOutOfRange() {
        let bytes = Self.annotated("""
            0002 04 \(Self.roundIDHex) 00000001 \(String(repeating: "ab", count: 32)) 00000001 02 00000000
            """)
        #expect(throws: WireError.self) { try CoordinatorMessage(decoding: bytes) }
    }

    // ShareKeysRequest (0x02): each advertisement is index ‖ identity ‖ c_pk ‖ s_pk ‖ signature ‖ u8-prefixed endorsement.
    @Test func shareKeysRequest() throws {
        let advertisement = KeyAdvertisement(
            index: 2, identityKey: [UInt8](repeating: 0x11, count: 32), encryptionKey: [UInt8](repeating: 0x22, count: 32),
            maskingKey: [UInt8](repeating: 0x33, count: 32), signature: [UInt8](repeating: 0x44, count: 64))
        let expected = Self.annotated("""
            0002 02 \(Self.roundIDHex)        # envelope, roundID
            00000009                          # |U1| = 9
            \(String(repeating: "ee", count: 32))  # U1 root
            00000001                          # 1 advertisement
            00000002                          # index 2
            \(String(repeating: "11", count: 32))  # identity key
            \(String(repeating: "22", count: 32))  # encryption key
            \(String(repeating: "33", count: 32))  # masking key
            \(String(repeating: "44", count: 64))  # signature
            00                                # no endorsement
            00000002                          # 2 proof digests
            \(String(repeating: "01", count: 32))
            \(String(repeating: "02", count: 32))
            """)
        let message = CoordinatorMessage.shareKeysRequest(ShareKeysRequest(
            roundID: sampleRoundID, advertisedCount: 9, advertisementRoot: [UInt8](repeating: 0xee, count: 32),
            advertisements: [advertisement],
            proof: [[UInt8](repeating: 0x01, count: 32), [UInt8](repeating: 0x02, count: 32)]))
        #expect(message.encoded == expected)
        #expect(try CoordinatorMessage(decoding: expected) == message)
    }

    // MaskedInputRequest (0x03): each share is sender ‖ recipient ‖ u16-prefixed ciphertext.
    @Test func maskedInputRequest() throws {
        let expected = Self.annotated("""
            0002 03 \(Self.roundIDHex)
            00000002                          # 2 shares
            00000001 00000005 0003 aabbcc     # 1 -> 5, 3 bytes
            00000009 00000005 0000            # 9 -> 5, empty
            """)
        let message = CoordinatorMessage.maskedInputRequest(MaskedInputRequest(roundID: sampleRoundID, shares: [
            EncryptedShare(sender: 1, recipient: 5, ciphertext: [0xaa, 0xbb, 0xcc]),
            EncryptedShare(sender: 9, recipient: 5, ciphertext: []),
        ]))
        #expect(message.encoded == expected)
        #expect(try CoordinatorMessage(decoding: expected) == message)
    }

    // UnmaskRequest (0x05): survivor view, then the (index ‖ 64-byte signature) list.
    @Test func unmaskRequest() throws {
        let expected = Self.annotated("""
            0002 05 \(Self.roundIDHex)
            00000002 \(String(repeating: "ab", count: 32)) 00000001 01 00000000  # view: 2 survivors, root, 1 status, no proof
            00000001 00000008                 # 1 signature, by 8
            \(String(repeating: "5a", count: 64))
            """)
        let message = CoordinatorMessage.unmaskRequest(UnmaskRequest(
            roundID: sampleRoundID,
            survivors: SurvivorView(survivorCount: 2, survivorRoot: [UInt8](repeating: 0xab, count: 32), statuses: [true], proof: []),
            signatures: [ConsistencySignature(index: 8, signature: [UInt8](repeating: 0x5a, count: 64))]))
        #expect(message.encoded == expected)
        #expect(try CoordinatorMessage(decoding: expected) == message)
    }

    // RoundOutcome (0x06): result code 0 + u32 survivor count, or code 1 + u16 abort code + u16-prefixed reason.
    @Test func roundOutcome() throws {
        let completed = Self.annotated("0002 06 \(Self.roundIDHex) 00 0001e240  # completed, 123456 survivors")
        let aborted = Self.annotated("0002 06 \(Self.roundIDHex) 01 0105 0002 6f6b  # aborted 0x0105, \"ok\"")
        let completedMessage = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .completed(survivorCount: 123_456)))
        let abortedMessage = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .aborted(code: 0x0105, reason: "ok")))
        #expect(completedMessage.encoded == completed)
        #expect(abortedMessage.encoded == aborted)
        #expect(try CoordinatorMessage(decoding: completed) == completedMessage)
        #expect(try CoordinatorMessage(decoding: aborted) == abortedMessage)
    }

    // AdvertiseKeys (0x41): round id, c_pk, s_pk, signature, all fixed-size with no prefixes.
    @Test func advertiseKeys() throws {
        let expected = Self.annotated("""
            0002 41 \(Self.roundIDHex)
            202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f  # encryption key
            606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f  # masking key
            999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8  # signature (64)
            b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8
            """)
        let message = sampleClientMessages[0]
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // ShareKeys (0x42): 32-byte commitment, then shares sorted by recipient.
    @Test func shareKeys() throws {
        let expected = Self.annotated("""
            0002 42 \(Self.roundIDHex)
            \(String(repeating: "c0", count: 32))  # self-mask commitment
            00000001 00000006 00000002 0002 0102   # 1 share: 6 -> 2, 2 bytes
            """)
        let message = ClientMessage.shareKeys(ShareKeys(
            roundID: sampleRoundID, selfMaskCommitment: [UInt8](repeating: 0xc0, count: 32),
            shares: [EncryptedShare(sender: 6, recipient: 2, ciphertext: [1, 2])]))
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // MaskedInput (0x43): the vector behind a u32 length prefix.
    @Test func maskedInput() throws {
        let expected = Self.annotated("0002 43 \(Self.roundIDHex) 00000008 0100000002000000  # lanes 1, 2 (LE)")
        let message = ClientMessage.maskedInput(MaskedInput(roundID: sampleRoundID, vector: hex("0100000002000000")))
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // ConsistencyResponse (0x44): just the 64-byte signature.
    @Test func consistencyResponse() throws {
        let expected = Self.annotated("0002 44 \(Self.roundIDHex) \(String(repeating: "e7", count: 64))")
        let message = ClientMessage.consistencyResponse(ConsistencyResponse(roundID: sampleRoundID, signature: [UInt8](repeating: 0xe7, count: 64)))
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // UnmaskResponse (0x45): each revealed share is owner ‖ kind (0 self-mask, 1 masking key) ‖ u16-prefixed share.
    @Test func unmaskResponse() throws {
        let expected = Self.annotated("""
            0002 45 \(Self.roundIDHex)
            00000002                          # 2 shares
            00000003 00 0002 abcd             # owner 3, self-mask
            00000007 01 0001 ef               # owner 7, masking key
            """)
        let message = ClientMessage.unmaskResponse(UnmaskResponse(roundID: sampleRoundID, shares: [
            RevealedShare(owner: 3, kind: .selfMask, share: [0xab, 0xcd]),
            RevealedShare(owner: 7, kind: .maskingKey, share: [0xef]),
        ]))
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // ClientAbort (0x46): u16 code, u16-prefixed UTF-8 reason.
    @Test func clientAbort() throws {
        let expected = Self.annotated("0002 46 \(Self.roundIDHex) 0204 0003 c3a978  # code 0x0204, \"éx\"")
        let message = ClientMessage.abort(ClientAbort(roundID: sampleRoundID, code: 0x0204, reason: "éx"))
        #expect(message.encoded == expected)
        #expect(try ClientMessage(decoding: expected) == message)
    }

    // ShareBundle (the AEAD plaintext): owner ‖ holder ‖ two u16-prefixed shares.
    @Test func shareBundle() throws {
        let expected = hex("00000004 00000009 0001 aa 0002 bbcc")
        let bundle = ShareBundle(owner: 4, holder: 9, selfMaskShare: [0xaa], maskingKeyShare: [0xbb, 0xcc])
        #expect(bundle.encoded == expected)
        #expect(try ShareBundle(decoding: expected) == bundle)
    }
}
