import SecAggWire
import Testing

/// The outcome query and its signed receipt (SPEC §4.10): round trips, the exact encoding and signed bytes, and
/// receipts whose fields contradict their status refused.
@Suite("Outcome query and receipt")
struct OutcomeMessageTests {
    static let roundID = RoundID(bytes: Array(0..<16))!
    static let digest = [UInt8](repeating: 0xD1, count: 32)
    static let signature = [UInt8](repeating: 0x5A, count: 64)

    static let receipts: [OutcomeReceipt] = [
        OutcomeReceipt(roundID: roundID, status: .included, survivorCount: 7, sumDigest: digest, signature: signature),
        OutcomeReceipt(roundID: roundID, status: .excluded, survivorCount: 6, sumDigest: digest, signature: signature),
        OutcomeReceipt(roundID: roundID, status: .aborted, abortCode: 0x0103, signature: signature),
        OutcomeReceipt(roundID: roundID, status: .pending, signature: signature),
        OutcomeReceipt(roundID: roundID, status: .unknown, signature: signature),
    ]

    @Test("queries and receipts of every status round-trip", arguments: receipts)
    func roundTrip(_ receipt: OutcomeReceipt) throws {
        #expect(try OutcomeReceipt(decoding: receipt.encoded) == receipt)
        let query = OutcomeQuery(roundID: Self.roundID)
        #expect(try OutcomeQuery(decoding: query.encoded) == query)
    }

    @Test("known encodings and the signed bytes")
    func knownEncodings() {
        #expect(OutcomeQuery(roundID: Self.roundID).encoded == [0x00, 0x02, 0x47] + Array(0..<16))
        #expect(OutcomeQuery.encodedBytes == OutcomeQuery(roundID: Self.roundID).encoded.count)
        let receipt = Self.receipts[0]
        #expect(receipt.encoded == [0x00, 0x02, 0x08] + Array(0..<16) + [0x00, 0, 0, 0, 7, 0, 0] + Self.digest + Self.signature)
        let client = [UInt8](repeating: 0xC1, count: 32)
        let content = receipt.signedContent(client: client)
        #expect(content.count == 105)
        #expect(content == [0x11] + Array("secagg/v2/receipt".utf8) + client + Array(0..<16) + [0x00, 0, 0, 0, 7, 0, 0] + Self.digest)
        // The status and the client are signed: another client's or another status's content differs.
        #expect(content != receipt.signedContent(client: [UInt8](repeating: 0xC2, count: 32)))
        var excluded = receipt
        excluded.status = .excluded
        #expect(content != excluded.signedContent(client: client))
    }

    @Test("a receipt whose fields contradict its status, or with an unknown status, is refused")
    func contradictions() {
        var aborted = Self.receipts[2]
        aborted.survivorCount = 3
        var pending = Self.receipts[3]
        pending.abortCode = 0x0206
        var unknown = Self.receipts[4]
        unknown.sumDigest = Self.digest
        for bad in [aborted, pending, unknown] {
            #expect(throws: WireError.self) { try OutcomeReceipt(decoding: bad.encoded) }
        }
        var bytes = Self.receipts[0].encoded
        bytes[19] = 9  // the status byte
        #expect(throws: WireError.self) { try OutcomeReceipt(decoding: bytes) }
        #expect(throws: WireError.self) { try OutcomeReceipt(decoding: Self.receipts[0].encoded + [0]) }
        #expect(throws: WireError.self) { try OutcomeQuery(decoding: OutcomeQuery(roundID: Self.roundID).encoded.dropLast().map { $0 }) }
    }

    // The drop notice (SPEC §4.11): its exact encoding, round trips of every cause, and an unknown phase or cause,
    // truncation or trailing bytes refused.
    @Test("drop notice: known encoding, round trips, refusals")
    func dropNotice() throws {
        let notice = DropNotice(roundID: Self.roundID, phase: 2, cause: .violation, reason: "ab")
        #expect(notice.encoded == [0x00, 0x02, 0x09] + Array(0..<16) + [0x02, 0x01, 0x00, 0x02, 0x61, 0x62])
        for cause in DropNotice.Cause.allCases {
            for phase in UInt8(0)...4 {
                let value = DropNotice(roundID: Self.roundID, phase: phase, cause: cause, reason: "x")
                #expect(try DropNotice(decoding: value.encoded) == value)
            }
        }
        var badPhase = notice.encoded
        badPhase[19] = 5
        var badCause = notice.encoded
        badCause[20] = 3
        for bytes in [badPhase, badCause, Array(notice.encoded.dropLast()), notice.encoded + [0]] {
            #expect(throws: WireError.self) { try DropNotice(decoding: bytes) }
        }
    }
}
