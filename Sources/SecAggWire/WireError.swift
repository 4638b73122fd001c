/// Why a byte string is not a valid canonical encoding.
///
/// Every decoder in secagg reads untrusted network bytes; each failure is one of these cases, with enough
/// context for a log line and never any of the payload.
public enum WireError: Error, Hashable, Sendable {
    /// The input ended before a field of `needed` bytes at `offset`.
    case truncated(offset: Int, needed: Int)
    /// Bytes remained after the message was fully decoded (canonical encodings have none).
    case trailingBytes(count: Int)
    /// A length prefix announced more items or bytes than the field's maximum.
    case lengthExceedsMaximum(field: String, length: Int, maximum: Int)
    /// A field held a value outside its allowed set (an unknown enum code, a zero index, ...).
    case invalidValue(field: String, reason: String)
    /// The message type byte is not one this version knows.
    case unknownMessageType(UInt8)
    /// The message carries a protocol version this implementation does not speak.
    case unsupportedVersion(UInt16)
}
