import CSecAgg
@testable import SecAggCABI
import SecAggClient
import SecAggProtocol
import SecAggTransport
import SecAggWire
import Testing

/// Every way a participation can fail reaches the C caller as its own result code (issue 14: "connection lost" was
/// reported for a refused identity, a dropped client and an input whose fate was unknown alike).
@Suite("C result codes of client failures")
struct FailureCodeTests {
    static let roundID = RoundID(bytes: [UInt8](repeating: 4, count: 16))!

    @Test("each client error class has its own C code", arguments: [
        (SecAggClientError.joinRefused(.notEnrolled, reason: ""), SECAGG_E_NOT_ENROLLED),
        (.joinRefused(.notEndorsed, reason: ""), SECAGG_E_NOT_ENROLLED),
        (.joinRefused(.revoked, reason: ""), SECAGG_E_REVOKED),
        (.joinRefused(.unknownTask, reason: ""), SECAGG_E_UNKNOWN_TASK),
        (.joinRefused(.queueFull, reason: ""), SECAGG_E_QUEUE_FULL),
        (.joinRefused(.shuttingDown, reason: ""), SECAGG_E_SHUTTING_DOWN),
        (.joinRefused(.alreadyJoined, reason: ""), SECAGG_E_ALREADY_JOINED),
        (.dropped(phase: .shareKeys, reason: "slow"), SECAGG_E_DROPPED),
        (.notCounted(roundID: roundID, reason: ""), SECAGG_E_DROPPED),
        (.outcomeUnknown(roundID: roundID, reason: ""), SECAGG_E_OUTCOME_UNKNOWN),
        (.connectionLost(""), SECAGG_E_CONNECTION_LOST),
        (.unreachable(attempts: 1, lastError: ""), SECAGG_E_UNREACHABLE),
        (.coordinatorViolation(""), SECAGG_E_PROTOCOL),
        (.notAdmitted, SECAGG_E_TIMEOUT),
    ])
    func codes(_ error: SecAggClientError, _ code: Int32) {
        let failure = CFailure(classifying: error)
        #expect(failure.code == code)
        #expect(failure.message == error.description)
        #expect(String(cString: secaggStrerror(code)) != String(cString: secaggStrerror(-1)), "a message of its own")
    }
}
