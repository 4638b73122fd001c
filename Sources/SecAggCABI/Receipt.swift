import CSecAgg
import SecAggClient
import SecAggProtocol
import SecAggWire

/// What a C caller learns about a round (mirrors `secagg_receipt`).
struct CReceipt: Sendable {
    var roundID: RoundID?
    var participant: ParticipantIndex?
    var outcome: ClientReceipt.Outcome?
    var message = ""

    init(roundID: RoundID?, participant: ParticipantIndex?, outcome: ClientReceipt.Outcome?, message: String = "") {
        self.roundID = roundID
        self.participant = participant
        self.outcome = outcome
        self.message = message
    }

    init(_ receipt: ClientReceipt) {
        self.init(roundID: receipt.roundID, participant: receipt.participant, outcome: receipt.outcome)
    }

    init(_ receipt: ParticipationReceipt) {
        self.init(roundID: receipt.roundID, participant: receipt.participant, outcome: receipt.outcome)
    }

    /// A receipt with no outcome that says why the call failed.
    init(failure: CFailure) {
        self.init(roundID: nil, participant: nil, outcome: nil, message: failure.message)
    }

    /// Writes the receipt into the caller's structure, overwriting every field.
    func write(to pointer: UnsafeMutablePointer<secagg_receipt>) {
        var receipt = secagg_receipt()
        var text = message
        switch outcome {
        case nil:
            receipt.outcome = SECAGG_OUTCOME_NONE
        case let .completed(survivorCount)?:
            receipt.outcome = SECAGG_OUTCOME_COMPLETED
            receipt.survivors = survivorCount
        case let .aborted(code, reason)?:
            receipt.outcome = SECAGG_OUTCOME_ABORTED
            receipt.abort_code = code
            text = reason
        }
        if let participant {
            receipt.has_participant = 1
            receipt.participant = participant
        }
        if let roundID {
            receipt.has_round_id = 1
            withUnsafeMutableBytes(of: &receipt.round_id) { destination in
                destination.copyBytes(from: roundID.bytes.prefix(destination.count))
            }
        }
        withUnsafeMutableBytes(of: &receipt.message) { destination in
            let bytes = truncatedUTF8(text, maximumBytes: destination.count - 1)
            destination.copyBytes(from: bytes)
            destination[bytes.count] = 0
        }
        pointer.pointee = receipt
    }
}

/// The longest prefix of `text`'s UTF-8 of at most `maximumBytes` bytes that does not split a character's encoding
/// (and holds no NUL, which would end the C string early).
func truncatedUTF8(_ text: String, maximumBytes: Int) -> [UInt8] {
    var bytes = Array(text.utf8.prefix(while: { $0 != 0 }))
    guard bytes.count > maximumBytes else { return bytes }
    var end = maximumBytes
    while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }
    bytes.removeSubrange(end...)
    return bytes
}
