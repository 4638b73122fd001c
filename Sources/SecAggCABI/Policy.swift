import CSecAgg
import SecAggCrypto
import SecAggProtocol

/// The client policy of `secagg_client_policy`, validated.
struct Policy: Sendable {
    var minimumThreshold: UInt32 = 2
    var minimumSurvivors: UInt32 = 3
    var requireActiveMode = false
    var enrollmentAuthority: Ed25519.VerifyingKey?

    /// The defaults (NULL) or the caller's policy, rejecting out-of-range flags and invalid keys.
    init(_ pointer: UnsafePointer<secagg_client_policy>?) throws(CFailure) {
        guard let policy = pointer?.pointee else { return }
        guard policy.require_active_mode <= 1, policy.has_enrollment_authority <= 1 else {
            throw .invalidArgument("policy flags must be 0 or 1")
        }
        minimumThreshold = policy.min_threshold
        minimumSurvivors = policy.min_survivors
        requireActiveMode = policy.require_active_mode == 1
        if policy.has_enrollment_authority == 1 {
            var raw = policy.enrollment_authority
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            guard let key = try? Ed25519.VerifyingKey(rawRepresentation: bytes), key.isPrimeOrderPoint else {
                throw CFailure(SECAGG_E_IDENTITY, "policy.enrollment_authority is not an Ed25519 public key")
            }
            enrollmentAuthority = key
        }
    }

    /// The state machine's configuration for `identity` under this policy.
    func clientConfiguration(identity: Ed25519.SigningKey) -> ClientConfiguration {
        ClientConfiguration(
            identity: identity, enrollmentAuthority: enrollmentAuthority, minimumThreshold: minimumThreshold,
            minimumSurvivors: minimumSurvivors, requireActiveMode: requireActiveMode)
    }
}

/// `secagg_client_policy_default`: the default policy.
@_cdecl("secagg_client_policy_default")
public func secaggClientPolicyDefault(_ policyOut: UnsafeMutablePointer<secagg_client_policy>?) -> Int32 {
    cCall {
        let out = try required(policyOut, "policy_out")
        var policy = secagg_client_policy()
        policy.min_threshold = 2
        policy.min_survivors = 3
        out.pointee = policy
    }
}

/// A 32-byte public key argument.
func publicKey(_ pointer: UnsafePointer<UInt8>?, count: Int, _ name: String) throws(CFailure) -> Ed25519.VerifyingKey {
    let pointer = try required(pointer, name)
    guard count == Ed25519.publicKeyByteCount else {
        throw .invalidArgument("\(name)_len must be \(Ed25519.publicKeyByteCount)")
    }
    guard let key = try? Ed25519.VerifyingKey(rawRepresentation: Array(UnsafeBufferPointer(start: pointer, count: count))),
          key.isPrimeOrderPoint else {
        throw CFailure(SECAGG_E_IDENTITY, "\(name) is not an Ed25519 public key")
    }
    return key
}
