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
    case SECAGG_E_JOIN_REFUSED: return cString("the coordinator refused the join")
    case SECAGG_E_PROTOCOL: return cString("the coordinator violated the protocol")
    case SECAGG_E_CONNECTION_LOST: return cString("connection lost before the round ended")
    case SECAGG_E_TIMEOUT: return cString("timed out")
    case SECAGG_E_CANCELLED: return cString("cancelled")
    case SECAGG_E_STATE: return cString("not allowed in the current state")
    case SECAGG_E_INTERNAL: return cString("internal error")
    default: return cString("unknown result code")
    }
}

/// A static string literal as a C string (string literals are stored NUL-terminated and never freed).
func cString(_ literal: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(literal.utf8Start).assumingMemoryBound(to: CChar.self)
}
