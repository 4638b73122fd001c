import CSecAgg
import SecAggWire

// Library-wide entry points of the C ABI (secagg.h, "Library").

/// `secagg_abi_version`: the ABI version this library implements, to compare with `SECAGG_ABI_VERSION`.
@_cdecl("secagg_abi_version")
public func secaggABIVersion() -> Int32 {
    SECAGG_ABI_VERSION
}

/// `secagg_version`: the library version as a static C string.
@_cdecl("secagg_version")
public func secaggVersion() -> UnsafePointer<CChar> {
    cString(SecAggVersion.release)
}

/// `secagg_strerror`: a static message for a result code.
@_cdecl("secagg_strerror")
public func secaggStrerror(_ code: Int32) -> UnsafePointer<CChar> {
    switch code {
    case SECAGG_OK: return cString("success")
    case SECAGG_E_INVALID_ARGUMENT: return cString("invalid argument (NULL pointer, wrong length or value out of range)")
    case SECAGG_E_BUFFER_TOO_SMALL: return cString("output buffer too small")
    case SECAGG_E_IDENTITY: return cString("malformed identity, seed or public key")
    case SECAGG_E_IO: return cString("file could not be read or written")
    case SECAGG_E_UNREACHABLE: return cString("coordinator unreachable")
    case SECAGG_E_HANDSHAKE: return cString("secure handshake failed or coordinator key mismatch")
    case SECAGG_E_JOIN_REFUSED: return cString("the coordinator refused the join (a refusal this library does not know)")
    case SECAGG_E_PROTOCOL: return cString("the coordinator violated the protocol")
    case SECAGG_E_CONNECTION_LOST: return cString("connection lost before the round ended (the input was not sent)")
    case SECAGG_E_TIMEOUT: return cString("timed out")
    case SECAGG_E_CANCELLED: return cString("cancelled")
    case SECAGG_E_STATE: return cString("not allowed in the current state")
    case SECAGG_E_INTERNAL: return cString("internal error")
    case SECAGG_E_NOT_ENROLLED: return cString("this identity is not enrolled with the coordinator (or not endorsed)")
    case SECAGG_E_REVOKED: return cString("this identity's enrollment was revoked")
    case SECAGG_E_UNKNOWN_TASK: return cString("the coordinator has no task of that name")
    case SECAGG_E_QUEUE_FULL: return cString("the task's waiting queue is full; try again later")
    case SECAGG_E_SHUTTING_DOWN: return cString("the coordinator is stopping or the task runs no more rounds; try again later")
    case SECAGG_E_ALREADY_JOINED: return cString("this identity is already connected or in a round")
    case SECAGG_E_DROPPED: return cString("dropped from the round; the input is in no released sum and may be sent again")
    case SECAGG_E_OUTCOME_UNKNOWN: return cString("whether the input was counted is unknown; do not send it again blindly")
    default: return cString("unknown result code")
    }
}

/// A static string literal as a C string (string literals are stored NUL-terminated and never freed).
func cString(_ literal: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(literal.utf8Start).assumingMemoryBound(to: CChar.self)
}
