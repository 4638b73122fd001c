import CSecAgg
import SecAggClient
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggTransport
import SecAggWire

/// A failed C call: the result code to return and a description for `secagg_receipt.message`.
struct CFailure: Error, Sendable {
    var code: Int32
    var message: String

    init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }

    static func invalidArgument(_ what: String) -> CFailure { CFailure(SECAGG_E_INVALID_ARGUMENT, what) }

    /// Classifies any error the Swift layers throw into a result code; nothing escapes unclassified.
    init(classifying error: any Error) {
        switch error {
        case let failure as CFailure:
            self = failure
        case is CancellationError:
            self.init(SECAGG_E_CANCELLED, "cancelled")
        case let error as SecAggClientError:
            switch error {
            case .unreachable: self.init(SECAGG_E_UNREACHABLE, error.description)
            case let .joinRefused(refusal, _): self.init(Self.code(of: refusal), error.description)
            case .coordinatorViolation: self.init(SECAGG_E_PROTOCOL, error.description)
            case .connectionLost: self.init(SECAGG_E_CONNECTION_LOST, error.description)
            // Not in any released sum (dropped before it counted, or a signed "excluded"): safe to submit again.
            case .dropped, .notCounted: self.init(SECAGG_E_DROPPED, error.description)
            case .outcomeUnknown: self.init(SECAGG_E_OUTCOME_UNKNOWN, error.description)
            case .notAdmitted: self.init(SECAGG_E_TIMEOUT, error.description)
            }
        case let error as TransportError:
            switch error {
            case .handshakeFailed, .peerRejected, .malformedHandshakePayload:
                self.init(SECAGG_E_HANDSHAKE, error.description)
            case .handshakeTimedOut, .idleTimeout, .messageTooSlow:
                self.init(SECAGG_E_TIMEOUT, error.description)
            case .connectionClosed, .truncatedFrame, .sendInterrupted:
                self.init(SECAGG_E_CONNECTION_LOST, error.description)
            case .decryptionFailed, .messageTooLarge, .malformedMessage, .unexpectedMessage:
                self.init(SECAGG_E_PROTOCOL, error.description)
            case .frameTooLarge, .encryptionFailed:
                self.init(SECAGG_E_INTERNAL, error.description)
            case .sendTooLarge:
                self.init(SECAGG_E_INVALID_ARGUMENT, error.description)
            }
        case let error as IdentityFileError:
            switch error {
            case .alreadyExists, .unwritable, .unreadable, .tooPermissive: self.init(SECAGG_E_IO, error.description)
            case .malformed, .invalidPublicKey: self.init(SECAGG_E_IDENTITY, error.description)
            }
        case let error as CryptoError:
            self.init(SECAGG_E_IDENTITY, "\(error)")
        case let error as WireError:
            self.init(SECAGG_E_PROTOCOL, "\(ProtocolViolation.malformed(error))")
        default:
            self.init(SECAGG_E_INTERNAL, "\(error)")
        }
    }
}

extension CFailure {
    /// The result code of a coordinator's refusal (SPEC §4.9).
    static func code(of refusal: JoinResponse.Refusal) -> Int32 {
        switch refusal {
        case .notEnrolled, .notEndorsed: return SECAGG_E_NOT_ENROLLED
        case .revoked: return SECAGG_E_REVOKED
        case .unknownTask: return SECAGG_E_UNKNOWN_TASK
        case .queueFull: return SECAGG_E_QUEUE_FULL
        case .shuttingDown: return SECAGG_E_SHUTTING_DOWN
        case .alreadyJoined: return SECAGG_E_ALREADY_JOINED
        }
    }
}

/// Runs the body of a C entry point: a thrown error becomes its result code, success is `SECAGG_OK`.
func cCall(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return SECAGG_OK
    } catch {
        return CFailure(classifying: error).code
    }
}

/// The pointer, or an invalid-argument failure naming the parameter.
func required<Pointee>(_ pointer: UnsafePointer<Pointee>?, _ name: String) throws(CFailure) -> UnsafePointer<Pointee> {
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    return pointer
}

/// The mutable pointer, or an invalid-argument failure naming the parameter.
func required<Pointee>(
    _ pointer: UnsafeMutablePointer<Pointee>?, _ name: String
) throws(CFailure) -> UnsafeMutablePointer<Pointee> {
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    return pointer
}

/// A copy of `(pointer, count)` as an array; NULL is accepted only with a zero count.
func copyArray<Element>(_ pointer: UnsafePointer<Element>?, count: Int, _ name: String) throws(CFailure) -> [Element] {
    guard count >= 0, count <= Int32.max else { throw .invalidArgument("\(name): length \(count) is out of range") }
    if count == 0 { return [] }
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

/// A NUL-terminated UTF-8 string argument.
func requiredString(_ pointer: UnsafePointer<CChar>?, _ name: String) throws(CFailure) -> String {
    guard let pointer else { throw .invalidArgument("\(name) is NULL") }
    guard let text = String(validatingCString: pointer) else { throw .invalidArgument("\(name) is not UTF-8") }
    return text
}
