/// Errors of the differential-privacy layer (noise samplers, accountant, encoders).
///
/// Every case carries a human-readable message that names the offending parameter and what to change, so a
/// command-line tool can show it as is. Callers that need to branch on the kind of failure switch on the case.
public enum PrivacyError: Error, Hashable, Sendable {
    /// A parameter is outside the range the operation supports (for example a non-positive variance, a zero
    /// denominator, or a value too large for exact 128-bit arithmetic). The message says which one and why.
    case invalidParameter(String)
}
