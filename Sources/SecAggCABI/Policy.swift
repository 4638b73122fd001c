import CSecAgg
import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// `secagg_client_policy` ↔ ``ClientPolicy``: the one mapping of the client's policy into the C ABI.
extension ClientPolicy {
    /// The defaults (NULL) or the caller's policy, rejecting out-of-range flags, invalid keys and unusable noise
    /// floors.
    init(_ pointer: UnsafePointer<secagg_client_policy>?) throws(CFailure) {
        self.init()
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
        if policy.min_local_noise_variance != 0 {
            guard let floor = NoiseVariance(roundingUp: policy.min_local_noise_variance) else {
                throw .invalidArgument("policy.min_local_noise_variance must be 0 (none) or a positive number up to 2^40")
            }
            minimumLocalNoise = floor
        }
    }

    /// The policy as the C structure (the noise floor as the nearest double).
    var cPolicy: secagg_client_policy {
        var policy = secagg_client_policy()
        policy.min_threshold = minimumThreshold
        policy.min_survivors = minimumSurvivors
        policy.require_active_mode = requireActiveMode ? 1 : 0
        if let enrollmentAuthority {
            policy.has_enrollment_authority = 1
            withUnsafeMutableBytes(of: &policy.enrollment_authority) {
                $0.copyBytes(from: enrollmentAuthority.rawRepresentation)
            }
        }
        policy.min_local_noise_variance = minimumLocalNoise?.value ?? 0
        return policy
    }
}

/// `secagg_client_policy_default`: the default policy (``ClientPolicy``'s defaults).
@_cdecl("secagg_client_policy_default")
public func secaggClientPolicyDefault(_ policyOut: UnsafeMutablePointer<secagg_client_policy>?) -> Int32 {
    cCall {
        let out = try required(policyOut, "policy_out")
        out.pointee = ClientPolicy().cPolicy
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
