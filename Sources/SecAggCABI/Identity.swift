import CSecAgg
import SecAggCrypto
import SecAggIdentity
import SecAggTransport

/// The object behind a `secagg_identity` handle: an Ed25519 signing key (its seed wiped when released).
final class IdentityHandle: Sendable {
    let key: Ed25519.SigningKey

    init(_ key: Ed25519.SigningKey) {
        self.key = key
    }
}

/// `secagg_identity_generate`: a new identity from libsodium's CSPRNG.
@_cdecl("secagg_identity_generate")
public func secaggIdentityGenerate(_ identityOut: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    cCall {
        let out = try required(identityOut, "identity_out")
        var random = SystemRandom()
        Handle.store(IdentityHandle(Ed25519.SigningKey(using: &random)), in: out)
    }
}

/// `secagg_identity_from_seed`: the identity with a given 32-byte seed.
@_cdecl("secagg_identity_from_seed")
public func secaggIdentityFromSeed(
    _ identityOut: UnsafeMutablePointer<OpaquePointer?>?, _ seed: UnsafePointer<UInt8>?, _ seedLength: Int
) -> Int32 {
    cCall {
        let out = try required(identityOut, "identity_out")
        let seed = try required(seed, "seed")
        guard seedLength == Ed25519.seedByteCount else {
            throw CFailure.invalidArgument("seed_len must be \(Ed25519.seedByteCount)")
        }
        let key = try Ed25519.SigningKey(seed: SecureBytes(copying: UnsafeBufferPointer(start: seed, count: seedLength)))
        Handle.store(IdentityHandle(key), in: out)
    }
}

/// `secagg_identity_load`: reads a `secagg-identity-v1` file.
@_cdecl("secagg_identity_load")
public func secaggIdentityLoad(_ identityOut: UnsafeMutablePointer<OpaquePointer?>?, _ path: UnsafePointer<CChar>?) -> Int32 {
    cCall {
        let out = try required(identityOut, "identity_out")
        let path = try requiredString(path, "path")
        Handle.store(IdentityHandle(try IdentityFile.load(from: path)), in: out)
    }
}

/// `secagg_identity_save`: writes a new identity file (mode 0600), never overwriting.
@_cdecl("secagg_identity_save")
public func secaggIdentitySave(_ identity: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    cCall {
        let identity = try Handle.object(identity, as: IdentityHandle.self, "identity")
        try IdentityFile.save(identity.key, to: try requiredString(path, "path"))
    }
}

/// `secagg_identity_seed`: copies the secret seed out.
@_cdecl("secagg_identity_seed")
public func secaggIdentitySeed(_ seedOut: UnsafeMutablePointer<UInt8>?, _ seedOutLength: Int, _ identity: OpaquePointer?) -> Int32 {
    cCall {
        let out = try required(seedOut, "seed_out")
        let identity = try Handle.object(identity, as: IdentityHandle.self, "identity")
        guard seedOutLength >= Ed25519.seedByteCount else {
            throw CFailure(SECAGG_E_BUFFER_TOO_SMALL, "seed_out needs \(Ed25519.seedByteCount) bytes")
        }
        identity.key.seed.withUnsafeBytes { bytes in
            UnsafeMutableRawBufferPointer(start: out, count: bytes.count).copyMemory(from: bytes)
        }
    }
}

/// `secagg_identity_public_key`: copies the 32-byte Ed25519 public key out.
@_cdecl("secagg_identity_public_key")
public func secaggIdentityPublicKey(
    _ publicKeyOut: UnsafeMutablePointer<UInt8>?, _ publicKeyOutLength: Int, _ identity: OpaquePointer?
) -> Int32 {
    cCall {
        let out = try required(publicKeyOut, "public_key_out")
        let identity = try Handle.object(identity, as: IdentityHandle.self, "identity")
        let raw = identity.key.verifyingKey.rawRepresentation
        guard publicKeyOutLength >= raw.count else {
            throw CFailure(SECAGG_E_BUFFER_TOO_SMALL, "public_key_out needs \(raw.count) bytes")
        }
        out.update(from: raw, count: raw.count)
    }
}

/// `secagg_identity_free`: releases an identity handle.
@_cdecl("secagg_identity_free")
public func secaggIdentityFree(_ identity: OpaquePointer?) {
    Handle.release(identity, as: IdentityHandle.self)
}
